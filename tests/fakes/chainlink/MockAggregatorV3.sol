// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// A Chainlink AggregatorV3Interface whose round data the tests set: the price oracle reads a
/// real contract on a real (in-process) EVM, through the same web3 calls as against a live feed.
contract MockAggregatorV3 {
    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;

    uint80 private roundId_;
    int256 private answer_;
    uint256 private startedAt_;
    uint256 private updatedAt_;
    uint80 private answeredInRound_;

    constructor(uint8 decimals_, string memory description_) {
        decimals = decimals_;
        description = description_;
    }

    function setRoundData(
        uint80 roundId,
        int256 answer,
        uint256 startedAt,
        uint256 updatedAt,
        uint80 answeredInRound
    ) external {
        roundId_ = roundId;
        answer_ = answer;
        startedAt_ = startedAt;
        updatedAt_ = updatedAt;
        answeredInRound_ = answeredInRound;
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return (roundId_, answer_, startedAt_, updatedAt_, answeredInRound_);
    }
}

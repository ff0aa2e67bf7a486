// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title BetLedger: a public, append-only record of big wins.
/// @notice Each record is the SHA-256 of a bet slip id and the amount paid on it (in the
///         currency's minor unit). Anyone can read a record back and check that the platform
///         paid what it says; only the recorder appointed by the owner may write, and a bet can
///         be recorded once.
contract BetLedger {
    struct BetRecord {
        uint256 winAmount;
        uint256 timestamp;
        address recorder;
    }

    address public immutable owner;
    address public recorder;
    uint256 public totalRecords;
    uint256 public totalWinAmount;

    mapping(bytes32 => BetRecord) private records;

    event BetRecorded(
        bytes32 indexed betHash,
        uint256 indexed recordId,
        uint256 winAmount,
        address indexed recorder,
        uint256 timestamp
    );
    event RecorderChanged(address indexed previousRecorder, address indexed newRecorder);

    error NotOwner(address caller);
    error NotRecorder(address caller);
    error DuplicateBet(bytes32 betHash);
    error EmptyBetHash();
    error ZeroWinAmount();
    error ZeroAddress();

    /// @param initialRecorder the account that may record bets; the deployer when zero.
    constructor(address initialRecorder) {
        owner = msg.sender;
        address first = initialRecorder == address(0) ? msg.sender : initialRecorder;
        recorder = first;
        emit RecorderChanged(address(0), first);
    }

    /// @notice The owner appoints the one account allowed to write records.
    function setRecorder(address newRecorder) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (newRecorder == address(0)) revert ZeroAddress();
        emit RecorderChanged(recorder, newRecorder);
        recorder = newRecorder;
    }

    /// @notice Records a win once; a second record of the same bet is rejected.
    /// @return recordId the 1-based position of this record.
    function recordBet(bytes32 betHash, uint256 winAmount) external returns (uint256) {
        if (msg.sender != recorder) revert NotRecorder(msg.sender);
        if (betHash == bytes32(0)) revert EmptyBetHash();
        if (winAmount == 0) revert ZeroWinAmount();
        if (records[betHash].timestamp != 0) revert DuplicateBet(betHash);

        records[betHash] = BetRecord({winAmount: winAmount, timestamp: block.timestamp, recorder: msg.sender});
        uint256 recordId = totalRecords + 1;
        totalRecords = recordId;
        totalWinAmount += winAmount;
        emit BetRecorded(betHash, recordId, winAmount, msg.sender, block.timestamp);
        return recordId;
    }

    /// @return winAmount, timestamp (block time of the record), recorder; zeros when unknown.
    function getBetRecord(bytes32 betHash) external view returns (uint256, uint256, address) {
        BetRecord storage record = records[betHash];
        return (record.winAmount, record.timestamp, record.recorder);
    }

    function betExists(bytes32 betHash) external view returns (bool) {
        return records[betHash].timestamp != 0;
    }

    /// @return the number of records and the sum of their win amounts.
    function getStats() external view returns (uint256, uint256) {
        return (totalRecords, totalWinAmount);
    }
}

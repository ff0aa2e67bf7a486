/* The player's open and recent slips, live, with cashout.
 *
 * Built on tickets.js (window.Tote): the list comes from GET /api/bets and is reloaded when a
 * bet.* or selection.updated event arrives. bet.settled (a settlement) and bet.updated (a
 * resettlement, a cashout) carry the slip's new status and money: the slip shows them at once and
 * loses its offer once it is no longer open. odds.updated refreshes the current price of the open
 * slips' legs it names. A pending slip asks for an offer over the socket ({"type":
 * "cashout.request", "slip", "fraction"}), shows it with a countdown to its expiry and accepts it
 * ({"type": "cashout.accept", "offer"}): the page never sends an amount, only the offer's id. An
 * auto-cashout target is armed with {"type": "cashout.auto", "slip", "target"} (minor units; null
 * clears it).
 */
(function () {
  "use strict";

  const Tote = window.Tote;
  const OPEN = new Set(["pending", "awaiting"]);
  const RECENT = 10;
  const EXPONENT = { USD: 2, NGN: 2, TZS: 2, USDC: 6 };
  const offers = {}; // slip id -> offer data (cashout.offered / a fresh offer)
  const notes = {}; // slip id -> [text, isError]
  const oddsNow = {}; // selection id -> decimal odds string, or the market's state
  const shown = {}; // slip id -> the slip as last shown
  let reloadTimer = null;
  let loads = 0; // the latest load wins: an older answer arriving late is dropped
  let active = false;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  // --- the list ------------------------------------------------------------------------------

  async function load() {
    if (!active) return;
    const mine = ++loads;
    let body;
    try {
      body = await Tote.api("/api/bets?page_size=50");
    } catch (err) {
      console.warn("slips", err);
      return;
    }
    if (!active || mine !== loads) return;
    const slips = body.results || [];
    for (const key of Object.keys(shown)) delete shown[key];
    for (const slip of slips) shown[slip.id] = slip;
    const open = slips.filter((s) => OPEN.has(s.status));
    const recent = slips.filter((s) => !OPEN.has(s.status)).slice(0, RECENT);
    $("slip-list").replaceChildren(...open.concat(recent).map(render));
    $("slips-empty").hidden = slips.length > 0;
    tick();
  }

  function reloadSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, 100);
  }

  function render(slip) {
    const li = el("li", { "data-slip": String(slip.id), "data-status": slip.status });
    const head = el("div", { className: "slip-head" }, [
      el("strong", { text: "#" + slip.id + " " + slip.type + (slip.system ? " " + slip.system : "") }),
      el("span", { className: "slip-status", text: slip.status.replace("_", " ") }),
      el("span", { className: "stake", text: "stake " + slip.stake.display }),
      el("span", { className: "potential", text: "to win " + slip.potential_payout.display }),
      slip.payout ? el("span", { className: "payout", text: "paid " + slip.payout.display }) : null,
    ]);
    li.append(head);
    for (const leg of slip.legs) {
      const now = OPEN.has(slip.status) ? oddsNow[leg.selection] : null;
      li.append(
        el("div", { className: "leg", "data-selection": String(leg.selection), "data-event": String(leg.event) }, [
          el("span", { text: leg.event_name + " · " + leg.market_name + " · " + leg.name + " @ " + leg.odds_decimal }),
          el("span", { className: "odds-now muted", text: now && now !== leg.odds_decimal ? " · now " + now : "" }),
          leg.result ? el("span", { className: "muted", text: " · " + leg.result }) : null,
        ])
      );
    }
    if (slip.status === "pending") li.append(controls(slip));
    const note = notes[slip.id];
    if (note) li.append(el("p", { className: "cashout-message" + (note[1] ? " error" : ""), text: note[0] }));
    return li;
  }

  function controls(slip) {
    const fraction = el("select", { className: "fraction", title: "How much of the slip" }, [
      el("option", { value: "", text: "all" }),
      el("option", { value: "0.75", text: "75%" }),
      el("option", { value: "0.5", text: "50%" }),
      el("option", { value: "0.25", text: "25%" }),
    ]);
    const ask = el("button", { type: "button", className: "cashout-request", text: "Cash out" });
    ask.addEventListener("click", () => {
      const frame = { type: "cashout.request", slip: slip.id };
      if (fraction.value) frame.fraction = fraction.value;
      if (!Tote.send(frame)) note(slip.id, "Not connected: try again in a moment.", true);
    });
    const target = el("input", { className: "auto-target", type: "number", min: "0", step: "0.01", placeholder: "auto at…" });
    const arm = el("button", { type: "button", className: "auto-set", text: "Set auto" });
    arm.addEventListener("click", () => {
      const exponent = EXPONENT[slip.stake.currency] || 2;
      const value = target.value.trim();
      const minor = value === "" ? null : Math.round(Number(value) * Math.pow(10, exponent));
      Tote.send({ type: "cashout.auto", slip: slip.id, target: minor });
    });
    const row = el("div", { className: "cashout" }, [fraction, ask, target, arm]);
    const offer = offers[slip.id];
    if (offer) row.append(offerBox(offer));
    return row;
  }

  function offerBox(offer) {
    const accept = el("button", { type: "button", className: "cashout-accept", text: "Accept" });
    accept.addEventListener("click", () => {
      accept.disabled = true;
      Tote.send({ type: "cashout.accept", offer: offer.offer });
    });
    const part = offer.fraction === "1" ? "" : " for " + Math.round(Number(offer.fraction) * 100) + "%";
    return el("span", { className: "offer", "data-offer": String(offer.offer), "data-expires": offer.expires_at }, [
      el("span", { className: "offer-amount", text: "Offer " + offer.amount.display + part + " · " }),
      el("span", { className: "countdown" }),
      accept,
    ]);
  }

  function tick() {
    const now = Date.now();
    for (const box of document.querySelectorAll("#slip-list .offer")) {
      const left = Math.ceil((Date.parse(box.dataset.expires) - now) / 1000);
      if (left > 0) {
        box.querySelector(".countdown").textContent = left + " s ";
      } else {
        const slip = Number(box.closest("li").dataset.slip);
        delete offers[slip];
        notes[slip] = ["The offer expired: ask again.", false];
        box.replaceWith(el("span", { className: "muted", text: "offer expired" }));
      }
    }
  }

  function note(slipId, text, isError) {
    notes[slipId] = [text, isError];
    reloadSoon();
  }

  // --- events --------------------------------------------------------------------------------

  Tote.on("session.started", () => {
    active = true;
    $("slips").hidden = false;
    load();
  });
  Tote.on("session.ended", () => {
    active = false;
    $("slips").hidden = true;
    $("slip-list").replaceChildren();
    for (const store of [offers, notes, oddsNow, shown]) for (const key of Object.keys(store)) delete store[key];
  });
  Tote.on("state.stale", reloadSoon);
  for (const type of ["bet.placed", "selection.updated"]) Tote.on(type, reloadSoon);

  // The slip's new status, stake and payout, shown at once (the reload behind it brings the
  // legs' results); a slip settled or cashed out keeps no offer.
  function slipChanged(event) {
    const data = event.data || {};
    if (data.status && !OPEN.has(data.status)) delete offers[data.slip];
    const slip = shown[data.slip];
    const li = document.querySelector('#slip-list li[data-slip="' + data.slip + '"]');
    if (slip && li) {
      for (const key of ["status", "stake", "potential_payout", "payout"]) if (key in data) slip[key] = data[key];
      li.replaceWith(render(slip));
    }
    reloadSoon();
  }
  Tote.on("bet.settled", slipChanged);
  Tote.on("bet.updated", slipChanged);

  Tote.on("odds.updated", (event) => {
    for (const market of event.data.markets || []) {
      for (const selection of market.selections || []) {
        const open = market.status === "open" && selection.status === "open";
        oddsNow[selection.id] = open ? selection.odds : market.status !== "open" ? market.status : selection.status;
        for (const leg of document.querySelectorAll('#slip-list .leg[data-selection="' + selection.id + '"]')) {
          if (!OPEN.has(leg.closest("li").dataset.status)) continue; // a decided slip has no price
          leg.querySelector(".odds-now").textContent = " · now " + oddsNow[selection.id];
        }
      }
    }
  });

  Tote.on("cashout.offered", (event) => {
    offers[event.data.slip] = event.data;
    delete notes[event.data.slip];
    reloadSoon();
  });
  Tote.on("cashout.success", (event) => {
    delete offers[event.data.slip];
    const how = event.data.origin === "auto" ? "Auto-cashout: paid " : "Cashed out: paid ";
    note(event.data.slip, how + event.data.amount.display, false);
  });
  Tote.on("cashout.error", (event) => {
    const data = event.data;
    const slip = data.slip;
    if (slip == null) return;
    if (offers[slip] && offers[slip].offer === data.offer) delete offers[slip];
    if (data.fresh_offer) offers[slip] = data.fresh_offer;
    note(slip, data.message + (data.fresh_offer ? " New offer: " + data.fresh_offer.amount.display : ""), true);
  });
  Tote.on("cashout.auto", (frame) => {
    const data = frame.data;
    note(data.slip, data.target ? "Auto-cashout at " + data.target.display : "Auto-cashout cleared", false);
  });

  setInterval(tick, 250);
})();

// Atlantide Engage console: the bearer token, writes through the /v1 API, the live stream.
// The token lives in this tab's sessionStorage and goes out only in an Authorization header,
// so the API is called exactly as any frontend calls it (no cookie, hence no CSRF exposure).
(function () {
  "use strict";
  var TOKEN_KEY = "engage.console.token";
  var SIGN_IN = "/console/sign-in";
  var REFRESH_DELAY_MS = 400;
  var MIN_REFRESH_INTERVAL_MS = 1500;

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function word(name) {
    var words = document.getElementById("words");
    return (words && words.dataset[name]) || name;
  }

  function claims(raw) {
    try {
      var payload = raw.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(payload))));
    } catch (error) {
      return null;
    }
  }

  function signOut(expired) {
    sessionStorage.removeItem(TOKEN_KEY);
    var next = encodeURIComponent(location.pathname + location.search);
    location.assign(SIGN_IN + "?next=" + next + (expired ? "&expired=1" : ""));
  }

  function notice(text, isProblem) {
    var box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.className = "notice " + (isProblem ? "notice-problem" : "notice-ok");
  }

  // A problem+json answer's words: its detail, else its title, else the status.
  function problemText(response, body) {
    var detail = body && (body.detail || body.title);
    var fields = body && body.errors ? body.errors.map(function (e) { return e.field + ": " + e.message; }) : [];
    return response.status + " · " + (detail || response.statusText) + (fields.length ? " (" + fields.join("; ") + ")" : "");
  }

  function readProblem(response) {
    return response.json().catch(function () { return null; }).then(function (body) {
      return problemText(response, body);
    });
  }

  function authorized(headers) {
    var all = headers || {};
    all.Authorization = "Bearer " + token();
    return all;
  }

  // Sign-in page ------------------------------------------------------------------------------

  function nextPage() {
    var next = new URLSearchParams(location.search).get("next") || "";
    return next.indexOf("/console/") === 0 ? next : "/console/engagements";
  }

  function showFormProblem(form, text) {
    var out = form.querySelector(".problem");
    out.textContent = text;
    out.hidden = false;
  }

  // Back from the identity provider: the page carries the access token the gateway exchanged.
  function keepIssuedToken() {
    var issued = document.getElementById("issued-token");
    if (!issued) return false;
    sessionStorage.setItem(TOKEN_KEY, issued.dataset.token);
    var next = issued.dataset.next || "";
    location.replace(next.indexOf("/console/") === 0 ? next : "/console/engagements");
    return true;
  }

  function setUpSignIn() {
    if (keepIssuedToken()) return;
    if (new URLSearchParams(location.search).get("expired")) notice(word("sessionExpired"), true);
    var dev = document.getElementById("dev-sign-in");
    if (dev) {
      dev.addEventListener("submit", function (event) {
        event.preventDefault();
        var body = { subject: dev.subject.value.trim(), role: dev.role.value };
        if (dev.organization_id.value.trim()) body.organization_id = dev.organization_id.value.trim();
        fetch(SIGN_IN, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
        }).then(function (response) {
          if (!response.ok) return readProblem(response).then(function (text) { showFormProblem(dev, text); });
          return response.json().then(function (issued) {
            sessionStorage.setItem(TOKEN_KEY, issued.token);
            location.assign(nextPage());
          });
        }).catch(function (error) { showFormProblem(dev, String(error)); });
      });
    }
    var pasted = document.getElementById("token-sign-in");
    if (!pasted) return;
    pasted.addEventListener("submit", function (event) {
      event.preventDefault();
      var raw = pasted.token.value.trim();
      if (!claims(raw)) {
        showFormProblem(pasted, "422 · " + pasted.querySelector("label").textContent);
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, raw);
      location.assign(nextPage());
    });
  }

  // Pages behind the token --------------------------------------------------------------------

  function showWho() {
    var who = claims(token() || "");
    if (!who) return;
    var grants = [];
    Object.keys(who.org_roles || {}).forEach(function (org) {
      grants = grants.concat(who.org_roles[org]);
    });
    grants = grants.concat(who.roles || []);
    document.getElementById("who-name").textContent = who.sub + " (" + grants.join(", ") + ")";
    document.getElementById("who").hidden = false;
    var out = document.getElementById("sign-out");
    out.hidden = false;
    out.addEventListener("click", function () { signOut(false); });
  }

  // Sections reload after a change, at most once per interval, whatever the burst of events.
  var refreshTimer = null;
  var lastRefresh = 0;
  var pendingEvents = {};
  var forced = false;
  function refreshSoon(events, force) {
    events.forEach(function (name) { pendingEvents[name] = true; });
    if (force) forced = true;
    if (refreshTimer) return;
    var wait = Math.max(REFRESH_DELAY_MS, lastRefresh + MIN_REFRESH_INTERVAL_MS - Date.now());
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      if (!forced && busy()) {
        // Reloading now would wipe what the person is typing or looking at: later.
        refreshSoon([]);
        return;
      }
      forced = false;
      lastRefresh = Date.now();
      var names = Object.keys(pendingEvents);
      pendingEvents = {};
      names.forEach(function (name) { htmx.trigger(document.body, name); });
    }, wait);
  }

  function busy() {
    var active = document.activeElement;
    if (active && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName)) return true;
    if (document.querySelector("iframe.preview")) return true;
    return Array.prototype.some.call(document.querySelectorAll("form.action textarea"), function (field) {
      return field.value.trim() !== "";
    });
  }

  function eventsFor(name) {
    var wanted = ["engage:refresh"];
    if (/^(listening|reporting|conversations)\./.test(name)) wanted.push("engage:insights");
    if (/^conversations\./.test(name)) wanted.push("engage:inbox");
    if (/^content\.plan/.test(name)) wanted.push("engage:plan");
    return wanted;
  }

  function setUpActions() {
    document.body.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList || !form.classList.contains("action")) return;
      event.preventDefault();
      var out = form.querySelector(".problem");
      out.hidden = true;
      var body = JSON.parse(form.dataset.body || "{}");
      var field = form.querySelector("textarea, input[name]");
      if (field) {
        if (field.required && !field.value.trim()) {
          out.textContent = "422 · " + form.querySelector("label").textContent;
          out.hidden = false;
          field.focus();
          return;
        }
        if (field.value.trim()) body[field.name] = field.value.trim();
      }
      var button = form.querySelector("button");
      button.disabled = true;
      fetch(form.dataset.url, {
        method: "POST",
        headers: authorized({ "Content-Type": "application/json", Accept: "application/json" }),
        body: JSON.stringify(body),
      }).then(function (response) {
        if (response.status === 401) return signOut(true);
        if (!response.ok) {
          return readProblem(response).then(function (text) {
            out.textContent = text;
            out.hidden = false;
            notice(word("problem") + ": " + text, true);
            button.disabled = false;
          });
        }
        notice(word("done") + ": " + button.textContent.trim(), false);
        refreshSoon(["engage:refresh", "engage:insights", "engage:inbox"], true);
      }).catch(function (error) {
        out.textContent = String(error);
        out.hidden = false;
        button.disabled = false;
      });
    });
  }

  // Links to files behind the token (a report's PDF): fetched with it, then saved.
  function setUpDownloads() {
    document.body.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[data-download]");
      if (!link) return;
      event.preventDefault();
      fetch(link.getAttribute("href"), { headers: authorized({}) }).then(function (response) {
        if (!response.ok) return readProblem(response).then(function (text) { notice(text, true); });
        return response.blob().then(function (blob) {
          var url = URL.createObjectURL(blob);
          var save = document.createElement("a");
          save.href = url;
          save.download = link.dataset.download;
          document.body.appendChild(save);
          save.click();
          save.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        });
      }).catch(function (error) { notice(String(error), true); });
    });
  }

  // A variant's platform preview: the content service's HTML page, fetched with the token and
  // shown in a sandboxed frame (no script, an origin of its own).
  function setUpPreviews() {
    document.body.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button[data-preview]");
      if (!button) return;
      fetch(button.dataset.preview, { headers: authorized({ Accept: "text/html" }) }).then(function (response) {
        if (!response.ok) return readProblem(response).then(function (text) { notice(text, true); });
        return response.text().then(function (html) {
          var frame = button.parentElement.querySelector("iframe.preview") || document.createElement("iframe");
          frame.className = "preview";
          frame.setAttribute("sandbox", "");
          frame.title = button.textContent.trim();
          frame.srcdoc = html;
          button.after(frame);
        });
      }).catch(function (error) { notice(String(error), true); });
    });
  }

  // The live stream ---------------------------------------------------------------------------
  // EventSource cannot send an Authorization header, so the stream is read with fetch; a
  // reconnect sends Last-Event-ID, and the gateway resumes right after it.

  function setLiveStatus(state) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.textContent = word("live" + state.charAt(0).toUpperCase() + state.slice(1));
      el.dataset.liveState = state;
    });
  }

  function describe(event) {
    var data = event.data || {};
    var parts = [];
    ["phase", "gate", "kind", "decision", "status", "channel", "title"].forEach(function (key) {
      if (typeof data[key] === "string") parts.push(data[key]);
    });
    return parts.join(" · ");
  }

  // In the client's time zone, as every time the pages render (the overview names it).
  function clock(at) {
    var options = { hourCycle: "h23" };
    var zoned = document.querySelector("[data-zone]");
    if (zoned && zoned.dataset.zone) options.timeZone = zoned.dataset.zone;
    try {
      return at.toLocaleTimeString(document.documentElement.lang, options);
    } catch (error) {
      delete options.timeZone; // a zone this browser does not know
      return at.toLocaleTimeString(document.documentElement.lang, options);
    }
  }

  function showEvent(list, name, event) {
    if (!list) return;
    var item = document.createElement("li");
    var when = document.createElement("time");
    var at = new Date(event.time || Date.now());
    when.dateTime = at.toISOString();
    when.textContent = clock(at);
    var what = document.createElement("strong");
    what.textContent = name;
    var detail = document.createElement("span");
    detail.textContent = describe(event);
    item.dataset.event = name;
    item.append(when, " ", what, " ", detail);
    list.prepend(item);
    while (list.children.length > 100) list.lastElementChild.remove();
  }

  function follow(url, list) {
    var lastId = null;
    var retryMs = 3000;

    function handle(frame) {
      var name = "message";
      var data = "";
      var id = null;
      frame.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
        else if (line.indexOf("id:") === 0) id = line.slice(3).trim();
        else if (line.indexOf("retry:") === 0) retryMs = parseInt(line.slice(6), 10) || retryMs;
      });
      if (id) lastId = id;
      if (!data) return "continue";
      if (name === "stream.token_expired") return "expired";
      if (name === "stream.interrupted") return "reconnect";
      if (name.indexOf("stream.") === 0) return "continue";
      var event;
      try { event = JSON.parse(data); } catch (error) { return "continue"; }
      showEvent(list, name, event);
      refreshSoon(eventsFor(name));
      return "continue";
    }

    function connect() {
      setLiveStatus(lastId === null ? "connecting" : "reconnecting");
      var headers = authorized({ Accept: "text/event-stream" });
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      fetch(url, { headers: headers, cache: "no-store" }).then(function (response) {
        if (response.status === 401) return signOut(true);
        if (!response.ok || !response.body) {
          return readProblem(response).then(function (text) {
            notice(word("problem") + ": " + text, true);
            setTimeout(connect, retryMs);
          });
        }
        setLiveStatus("connected");
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return "reconnect";
            buffer = (buffer + decoder.decode(chunk.value, { stream: true })).replace(/\r\n?/g, "\n");
            var end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              var outcome = handle(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
              if (outcome !== "continue") {
                reader.cancel();
                return outcome;
              }
            }
            return pump();
          });
        }
        return pump().then(function (outcome) {
          if (outcome === "expired") return signOut(true);
          setLiveStatus("reconnecting");
          setTimeout(connect, retryMs);
        });
      }).catch(function () {
        setLiveStatus("reconnecting");
        setTimeout(connect, retryMs);
      });
    }

    connect();
  }

  function setUpLive() {
    var list = document.getElementById("live-events");
    var source = document.querySelector("[data-stream-url]");
    if (source) follow(source.dataset.streamUrl, list);
  }

  function start() {
    if (document.body.dataset.needsToken !== "true") {
      setUpSignIn();
      return;
    }
    if (!token()) {
      signOut(false);
      return;
    }
    // Every fragment htmx loads carries the token; a 401 in one sends the user to sign in.
    document.body.addEventListener("htmx:configRequest", function (event) {
      event.detail.headers.Authorization = "Bearer " + token();
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target.querySelector("[data-signed-out]")) signOut(true);
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      notice(word("problem") + ": " + event.detail.xhr.status + " · " + event.detail.xhr.responseText.slice(0, 300), true);
    });
    document.body.addEventListener("htmx:sendError", function () {
      notice(word("problem") + ": network", true);
    });
    showWho();
    setUpActions();
    setUpDownloads();
    setUpPreviews();
    setUpLive();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

/* MediaNest pages: CSRF for htmx, toasts, confirmations, theme, sign-in flows,
   and live updates over Socket.IO. No inline scripts anywhere (strict CSP). */
(function () {
  'use strict';

  // ---------------------------------------------------------------- helpers
  function cookie(name) {
    var match = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
    return match ? decodeURIComponent(match[1]) : '';
  }

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /** Call our JSON API; resolves to {ok, status, data, error} (never rejects on HTTP errors). */
  function api(method, url, body) {
    var headers = { 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-CSRF-Token'] = cookie('csrftoken');
    return fetch(url, {
      method: method, headers: headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (payload) {
        return {
          ok: res.ok, status: res.status,
          data: payload && payload.data, error: payload && payload.error,
          retryAfter: res.headers.get('Retry-After')
        };
      });
    }, function () {
      return { ok: false, status: 0, error: { code: 'NETWORK', message: 'MediaNest cannot be reached. Check your connection.' } };
    });
  }

  // The same rule as auth/pages.py SAFE_NEXT_PATTERN: one "/" then printable ASCII
  // without a backslash (browsers drop tabs/newlines in URLs and read "\\" as "/").
  var SAFE_NEXT = /^\/(?!\/)[!-\[\]-~]*$/;
  function safeNext(value) {
    return typeof value === 'string' && SAFE_NEXT.test(value) ? value : '/dashboard';
  }

  function formatDuration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    // Long waits in days ("7 days"), as people say them, not "167 h 52 min".
    if (seconds >= 2 * 86400) return Math.round(seconds / 86400) + ' days';
    if (seconds >= 86400) {
      var hours = Math.round((seconds - 86400) / 3600);
      return '1 day' + (hours ? ' ' + hours + ' h' : '');
    }
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h) return h + ' h ' + (m ? m + ' min' : '');
    if (m) return m + ' min' + (s ? ' ' + s + ' s' : '');
    return s + ' s';
  }

  function formatBytes(n) {
    var units = ['B', 'kB', 'MB', 'GB'], i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return (i ? n.toFixed(1) : Math.round(n)) + ' ' + units[i];
  }

  // ----------------------------------------------------------------- toasts
  var toastBox = null;
  var recentToasts = {};
  function toast(message, type) {
    toastBox = toastBox || document.getElementById('toasts');
    if (!toastBox || !message) return;
    // The same news from two paths (an htmx answer and a live push) is said once.
    var now = Date.now();
    if (recentToasts[message] && now - recentToasts[message] < 10000) return;
    recentToasts[message] = now;
    var item = document.createElement('div');
    item.className = 'toast toast-' + (type || 'info');
    item.setAttribute('data-toast-type', type || 'info');
    var text = document.createElement('p');
    text.textContent = message;
    var close = document.createElement('button');
    close.type = 'button';
    close.setAttribute('aria-label', 'Dismiss');
    close.textContent = '×';
    close.addEventListener('click', function () { item.remove(); });
    item.appendChild(text);
    item.appendChild(close);
    toastBox.appendChild(item);
    while (toastBox.children.length > 4) toastBox.firstElementChild.remove();
    setTimeout(function () { item.remove(); }, type === 'error' ? 9000 : 5000);
  }
  window.MediaNest = { toast: toast, api: api };

  // -------------------------------------------------------- form errors
  function clearErrors(form) {
    $all('[data-error-for]', form).forEach(function (el) { el.textContent = ''; });
    $all('[aria-invalid]', form).forEach(function (el) { el.removeAttribute('aria-invalid'); });
  }

  /** Put an API error next to its fields (details.fields) or at the form's end. */
  function showErrors(form, error) {
    var fields = (error && error.details && error.details.fields) || [];
    var placed = false;
    fields.forEach(function (f) {
      var name = String(f.field || '').split('.').pop();
      var slot = $('[data-error-for="' + name + '"]', form);
      var input = form.elements[name];
      if (slot) {
        // One rule per line (.field-error keeps line breaks): a list, not run-on clauses.
        slot.textContent = (slot.textContent ? slot.textContent + '\n' : '') + capitalise(f.message);
        placed = true;
      }
      if (input && input.setAttribute) input.setAttribute('aria-invalid', 'true');
    });
    var general = $('[data-error-for="_form"]', form);
    if (!placed && general) general.textContent = (error && error.message) || 'Something went wrong.';
    var firstInvalid = $('[aria-invalid="true"]', form);
    if (firstInvalid) firstInvalid.focus();
  }

  function capitalise(text) {
    text = String(text || '');
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function requireFields(form, names) {
    var ok = true;
    names.forEach(function (name) {
      var input = form.elements[name];
      if (input && !input.value.trim()) {
        var slot = $('[data-error-for="' + name + '"]', form);
        if (slot) slot.textContent = 'Required.';
        input.setAttribute('aria-invalid', 'true');
        ok = false;
      }
    });
    if (!ok) $('[aria-invalid="true"]', form).focus();
    return ok;
  }

  function busy(form, on) {
    $all('button[type="submit"]', form).forEach(function (b) { b.disabled = on; });
  }

  // ------------------------------------------------------------------ htmx
  document.addEventListener('htmx:configRequest', function (event) {
    event.detail.headers['X-CSRF-Token'] = cookie('csrftoken');
  });

  document.addEventListener('htmx:responseError', function (event) {
    var xhr = event.detail.xhr;
    // The server said it already (web/errors.py: HX-Trigger toast, HX-Reswap none).
    if (/"toast"/.test(xhr.getResponseHeader('HX-Trigger') || '')) return;
    var holder = document.createElement('div');
    holder.innerHTML = xhr.responseText || '';
    var text = holder.textContent.replace(/\s+/g, ' ').trim();
    toast(text && text.length < 300 ? text : 'The request failed (' + xhr.status + ').', 'error');
  });

  // A button with data-busy-text says what is happening in its target while it waits
  // (a connection test can take seconds; the old result must not look like the answer).
  document.addEventListener('htmx:beforeRequest', function (event) {
    var elt = event.detail.elt;
    var text = elt && elt.getAttribute && elt.getAttribute('data-busy-text');
    var target = event.detail.target;
    if (!text || !target) return;
    var note = document.createElement('p');
    note.className = 'alert alert-info';
    note.setAttribute('data-busy', '');
    note.setAttribute('role', 'status');
    note.textContent = text + ' ';
    if (elt.hasAttribute('data-busy-cancel')) {
      var cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'btn btn-ghost btn-sm';
      cancel.textContent = 'Cancel';
      cancel.addEventListener('click', function () {
        window.htmx.trigger(elt, 'htmx:abort');
        busyEnded(target, 'The search was cancelled.');
      });
      note.appendChild(cancel);
    }
    target.replaceChildren(note);
  });

  function busyEnded(target, message) {
    var note = document.createElement('p');
    note.className = 'alert alert-warning';
    note.setAttribute('role', 'alert');
    note.setAttribute('data-busy-ended', '');
    note.textContent = message;
    target.replaceChildren(note);
  }

  // A request that never answers ends with words, not a spinner forever.
  document.addEventListener('htmx:timeout', function (event) {
    var elt = event.detail.elt;
    var text = elt && elt.getAttribute && elt.getAttribute('data-timeout-text');
    if (text && event.detail.target) busyEnded(event.detail.target, text);
  });

  document.addEventListener('htmx:sendError', function () {
    toast('MediaNest cannot be reached. Check your connection.', 'error');
  });

  // Server fragments announce results with `HX-Trigger: {"toast": {...}}`.
  document.addEventListener('toast', function (event) {
    var d = event.detail || {};
    toast(d.message || d.value, d.type);
  });

  // Confirmations in an accessible <dialog> instead of window.confirm.
  var dialog = null;
  function confirmDialog(question, confirmLabel) {
    if (!dialog) {
      dialog = document.createElement('dialog');
      dialog.id = 'confirm-dialog';
      dialog.setAttribute('aria-labelledby', 'confirm-text');
      dialog.innerHTML = '<p id="confirm-text"></p><div class="dialog-actions">' +
        '<button type="button" class="btn btn-ghost" value="cancel">Cancel</button>' +
        '<button type="button" class="btn btn-primary" value="ok">Confirm</button></div>';
      document.body.appendChild(dialog);
    }
    $('#confirm-text', dialog).textContent = question;
    $('button[value="ok"]', dialog).textContent = confirmLabel || 'Confirm';
    return new Promise(function (resolve) {
      function done(answer) {
        dialog.removeEventListener('close', onClose);
        $all('button', dialog).forEach(function (b) { b.onclick = null; });
        if (dialog.open) dialog.close();
        resolve(answer);
      }
      function onClose() { done(false); }
      dialog.addEventListener('close', onClose);
      $('button[value="cancel"]', dialog).onclick = function () { done(false); };
      $('button[value="ok"]', dialog).onclick = function () { done(true); };
      dialog.showModal();
      $('button[value="ok"]', dialog).focus();
    });
  }

  // Elements whose action was confirmed on the element they replaced (below).
  var confirmedAlready = new WeakSet();

  document.addEventListener('htmx:confirm', function (event) {
    var question = event.detail.question;
    if (!question) return;
    event.preventDefault();
    if (confirmedAlready.has(event.detail.elt)) {
      confirmedAlready.delete(event.detail.elt);
      event.detail.issueRequest(true);
      return;
    }
    var label = event.detail.elt.getAttribute('data-confirm-label');
    confirmDialog(question, label).then(function (yes) {
      if (yes) {
        sendConfirmed(event.detail);
      } else {
        // A <select> that asked for confirmation goes back to the value it had.
        var elt = event.detail.elt;
        if (elt.tagName === 'SELECT' && elt.dataset.current) elt.value = elt.dataset.current;
      }
    });
  });

  // A live refresh (a download's next item, a poll) can swap the element while its dialog
  // is open, and htmx drops requests from elements no longer on the page: the confirmed
  // action goes from the element that replaced it (same kind, name, verb and URL), with
  // the choice confirmed (a <select>'s new value). If none did, the person is told
  // nothing was sent rather than left thinking it was.
  function sendConfirmed(detail) {
    var elt = detail.elt;
    if (document.body.contains(elt)) {
      detail.issueRequest(true);
      return;
    }
    var attr = 'hx-' + detail.verb;
    var url = elt.getAttribute(attr);
    var now = url === null ? null : $all('[' + attr + ']').filter(function (candidate) {
      return candidate.getAttribute(attr) === url && candidate.tagName === elt.tagName &&
        candidate.getAttribute('name') === elt.getAttribute('name');
    })[0];
    if (!now) {
      toast('This changed while you were confirming, so nothing was sent. Look again and retry if it still applies.', 'warning');
      return;
    }
    if (elt.tagName === 'SELECT' || elt.tagName === 'INPUT') now.value = elt.value;
    confirmedAlready.add(now);
    window.htmx.ajax(detail.verb, url, { source: now });
  }

  // TV season choice: "All" and single seasons exclude each other.
  document.addEventListener('change', function (event) {
    var box = event.target;
    var form = box.closest && box.closest('.season-form');
    if (!form) return;
    if (box.hasAttribute('data-all-seasons') && box.checked) {
      $all('[data-season]', form).forEach(function (b) { b.checked = false; });
    } else if (box.hasAttribute('data-season')) {
      var any = $all('[data-season]', form).some(function (b) { return b.checked; });
      $('[data-all-seasons]', form).checked = !any;
    }
  });

  // Posters come from TMDB; when one cannot load, the lettered placeholder stays.
  document.addEventListener('error', function (event) {
    var img = event.target;
    if (img && img.classList && img.classList.contains('poster-img')) img.remove();
  }, true);

  // ----------------------------------------------------------------- theme
  var THEMES = ['auto', 'light', 'dark'];
  function applyTheme(theme) {
    if (theme === 'auto') document.documentElement.removeAttribute('data-theme');
    else document.documentElement.setAttribute('data-theme', theme);
    var button = document.getElementById('theme-toggle');
    if (button) button.setAttribute('aria-label', 'Colour theme: ' + (theme === 'auto' ? 'automatic' : theme));
  }
  function currentTheme() {
    try { return localStorage.getItem('medianest-theme') || 'auto'; } catch (e) { return 'auto'; }
  }

  // --------------------------------------------------------------- sign-in
  function initLogout() {
    document.addEventListener('click', function (event) {
      var button = event.target.closest('[data-action="logout"]');
      if (!button) return;
      button.disabled = true;
      // This page's socket closes first: the server would end it with the session, and
      // the page would read itself again (initSocket) instead of going to sign-in.
      if (window.MediaNest.socket) window.MediaNest.socket.disconnect();
      api('POST', '/api/auth/logout').then(function () { window.location.assign('/login'); });
    });
  }

  // A Copy button (data-copy="#field"): the field's text to the clipboard, from the page
  // itself (a new API token is never put in an address or sent anywhere else). Without
  // the Clipboard API (plain http on a LAN address), the selected text and execCommand.
  function initCopyButtons() {
    document.addEventListener('click', function (event) {
      var button = event.target.closest('[data-copy]');
      if (!button) return;
      var field = document.querySelector(button.getAttribute('data-copy'));
      if (!field) return;
      var text = field.value !== undefined ? field.value : field.textContent;
      function copied() { toast('Copied.', 'success'); }
      function fallback() {
        field.focus();
        if (field.select) field.select();
        var ok = false;
        try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
        if (ok) copied(); else toast('Select the token and copy it (Ctrl+C).', 'info');
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(copied, fallback);
      } else {
        fallback();
      }
    });
  }

  function initPasswordLogin() {
    var form = document.getElementById('admin-login');
    if (!form) return;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      clearErrors(form);
      if (!requireFields(form, ['username', 'password'])) return;
      busy(form, true);
      var remember = document.getElementById('remember-me');
      api('POST', '/api/auth/admin', {
        username: form.elements.username.value.trim(),
        password: form.elements.password.value,
        rememberMe: !!(remember && remember.checked)
      }).then(function (res) {
        busy(form, false);
        if (res.ok) {
          window.location.assign(res.data.passwordChangeRequired ? '/change-password' : safeNext(form.dataset.next));
          return;
        }
        if (res.status === 401) {
          res.error.details = { fields: [{ field: 'password', message: res.error.message }] };
        }
        if (res.status === 429 && res.retryAfter) {
          res.error.message += ' Try again in ' + formatDuration(+res.retryAfter) + '.';
          res.error.details = {};
        }
        showErrors(form, res.error);
      });
    });
  }

  function initPlexLogin() {
    var root = document.getElementById('plex-signin');
    if (!root) return;
    var state = { pin: null, poll: null, tick: null, generation: 0 };

    function step(name) {
      $all('[data-step]', root).forEach(function (el) { el.hidden = el.dataset.step !== name; });
    }
    function stop() {
      state.generation += 1;
      clearTimeout(state.poll);
      clearInterval(state.tick);
    }
    function fail(message) {
      stop();
      $('#plex-error', root).textContent = message;
      step('error');
    }
    function expired() { stop(); step('expired'); $('[data-step="expired"] button', root).focus(); }
    function remember() { var box = document.getElementById('remember-me'); return !!(box && box.checked); }

    function countdown() {
      var left = (Date.parse(state.pin.expiresAt) - Date.now()) / 1000;
      if (left <= 0) { expired(); return; }
      var minutes = Math.floor(left / 60), seconds = Math.floor(left % 60);
      $('#pin-countdown', root).textContent = minutes + ':' + (seconds < 10 ? '0' : '') + seconds;
    }

    function poll(generation) {
      if (generation !== state.generation) return;
      api('GET', '/api/auth/plex/pin/' + encodeURIComponent(state.pin.id)).then(function (res) {
        if (generation !== state.generation) return;
        var data = res.data || {};
        if (res.ok && data.status === 'authorized') {
          stop();
          $('#pin-status', root).textContent = 'Approved. Signing you in…';
          window.location.assign(data.passwordChangeRequired ? '/change-password' : safeNext(root.dataset.next));
          return;
        }
        var code = res.error && res.error.code;
        if (code === 'PLEX_SERVER_ACCESS_REQUIRED') {
          stop();
          window.location.assign('/sign-in-refused');
          return;
        }
        if (code === 'PIN_DECLINED') { fail(res.error.message); return; }
        if (res.status === 410 || res.status === 404) { expired(); return; }
        if (!res.ok && res.status !== 0 && res.status !== 429 && res.status < 500) {
          fail(res.error && res.error.message || 'Plex refused the sign-in.');
          return;
        }
        // Still waiting (or a passing network/upstream hiccup): ask again shortly.
        state.poll = setTimeout(function () { poll(generation); }, 1000);
      });
    }

    function start() {
      stop();
      var button = $('#plex-start', root);
      button.disabled = true;
      step('start');
      api('POST', '/api/auth/plex/pin', { rememberMe: remember() }).then(function (res) {
        button.disabled = false;
        if (!res.ok) {
          var message = res.error && res.error.message || 'Plex cannot be reached right now.';
          if (res.status === 429 && res.retryAfter) message += ' Try again in ' + formatDuration(+res.retryAfter) + '.';
          fail(message);
          return;
        }
        state.pin = res.data;
        // plex.tv/link takes 4-character codes; a strong PIN is approved on the auth page.
        var short = state.pin.code.length <= 4;
        $('[data-when="short-code"]', root).hidden = !short;
        $('[data-when="long-code"]', root).hidden = short;
        $('#pin-code', root).textContent = state.pin.code;
        $('#pin-code', root).classList.toggle('pin-code-long', !short);
        $('#plex-auth-link', root).href = state.pin.authUrl;
        step('pin');
        countdown();
        state.tick = setInterval(countdown, 1000);
        var generation = state.generation;
        state.poll = setTimeout(function () { poll(generation); }, 1000);
        $('#plex-auth-link', root).focus();
      });
    }

    $('#plex-start', root).addEventListener('click', start);
    $('#plex-cancel', root).addEventListener('click', function () { stop(); step('start'); $('#plex-start', root).focus(); });
    $all('[data-action="plex-retry"]', root).forEach(function (b) { b.addEventListener('click', start); });
  }

  function initChangePassword() {
    var form = document.getElementById('change-password');
    if (!form) return;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      clearErrors(form);
      var hasCurrent = !!form.elements.currentPassword;  // absent in the forced change
      if (!requireFields(form, hasCurrent ? ['currentPassword', 'newPassword', 'confirmPassword'] : ['newPassword', 'confirmPassword'])) return;
      if (form.elements.newPassword.value !== form.elements.confirmPassword.value) {
        showErrors(form, { details: { fields: [{ field: 'confirmPassword', message: 'Does not match the new password.' }] } });
        return;
      }
      busy(form, true);
      var body = { newPassword: form.elements.newPassword.value };
      if (hasCurrent) body.currentPassword = form.elements.currentPassword.value;
      api('POST', '/api/auth/change-password', body).then(function (res) {
        busy(form, false);
        if (res.ok) { window.location.assign('/dashboard'); return; }
        showErrors(form, res.error);
      });
    });
  }

  // ------------------------------------------------------- live countdowns
  // <span data-countdown-until="ISO">: counts down; enables [data-countdown-enables] at zero.
  // Optional: data-countdown-prefix ("in ") before the time left, data-countdown-done
  // ("due now") shown at zero.
  function tickCountdowns(root) {
    $all('[data-countdown-until]', root).forEach(function (el) {
      var left = (Date.parse(el.dataset.countdownUntil) - Date.now()) / 1000;
      el.textContent = (el.dataset.countdownPrefix || '') + formatDuration(left);
      if (left <= 0) {
        if (el.dataset.countdownDone) el.textContent = el.dataset.countdownDone;
        el.removeAttribute('data-countdown-until');
        var target = el.dataset.countdownEnables && document.getElementById(el.dataset.countdownEnables);
        if (target) target.disabled = false;
        var notice = el.closest('[data-countdown-notice]');
        if (notice) notice.remove();
      }
    });
  }

  function relativeTime(iso) {
    var seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (!isFinite(seconds)) return 'never';
    if (seconds < 5) return 'just now';
    if (seconds < 60) return seconds + ' s ago';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
    if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ago';
    return Math.floor(seconds / 86400) + ' d ago';
  }

  /** A moment in the browser's own time zone: "14:05" today, else "Tue 9 Dec, 14:05". */
  function localTime(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) return '';
    var time = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    if (when.toDateString() === new Date().toDateString()) return time;
    return when.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short' }) + ', ' + time;
  }

  // <time data-local-time datetime="ISO">: shown in local time (the server writes UTC).
  // A countdown also says when, locally: "in 7 days (Tue 9 Dec, 14:05)".
  function showLocalTimes(root) {
    $all('time[data-local-time][datetime]', root).forEach(function (el) {
      var text = localTime(el.getAttribute('datetime'));
      if (text) el.textContent = text;
    });
    $all('[data-countdown-until]', root).forEach(function (el) {
      if (el.hasAttribute('data-local-shown')) return;
      var text = localTime(el.dataset.countdownUntil);
      if (!text) return;
      el.setAttribute('data-local-shown', '');
      var at = document.createElement('span');
      at.className = 'muted';
      at.setAttribute('data-local-at', '');
      at.textContent = ' (' + text + ')';
      el.after(at);
    });
  }
  // <time data-relative datetime="ISO">: "12 s ago", kept current. The server writes the
  // moment (UTC), not its age, so a list polled again is the same bytes (answered 304).
  function tickRelativeTimes(root) {
    $all('time[data-relative][datetime]', root).forEach(function (el) {
      if (el.getAttribute('datetime')) el.textContent = relativeTime(el.getAttribute('datetime'));
    });
  }

  function showTimes(root) {
    showLocalTimes(root);
    tickRelativeTimes(root);
    tickCountdowns(root);
  }
  // The whole page (a few elements): an outerHTML swap's element is no longer in it.
  document.addEventListener('htmx:afterSettle', function () { showTimes(document); });

  // ------------------------------------------------------------ live data
  var STATUS_WORDS = { online: 'Online', offline: 'Offline', degraded: 'Degraded', unconfigured: 'Not configured' };

  // Uptime Kuma: which source the data came from (live or polling) and how old it is.
  function renderSource(card, data) {
    var line = $('[data-field="source"]', card);
    if (!line) return;
    line.hidden = !data.source;
    line.setAttribute('data-source', data.source || '');
    var label = $('[data-field="source-label"]', line);
    if (label) label.textContent = data.source === 'live' ? 'Live' : 'Polling';
    var age = $('[data-field="data-age"]', line);
    if (age) {
      age.setAttribute('datetime', data.dataAt || '');
      age.textContent = data.dataAt ? relativeTime(data.dataAt) : 'never';
    }
    var note = $('[data-field="source-note"]', line);
    if (note) note.textContent = data.sourceNote ? ' · ' + data.sourceNote : '';
  }

  function renderMonitors(card, monitors) {
    var list = $('[data-field="monitors"]', card);
    if (!list) return;
    list.hidden = !(monitors && monitors.length);
    list.textContent = '';
    (monitors || []).forEach(function (m) {
      var item = document.createElement('li');
      var badge = document.createElement('span');
      badge.className = 'badge ' + (m.status === 'up' ? 'badge-ok' : m.status === 'down' ? 'badge-bad' : 'badge-warn');
      badge.textContent = m.status;
      item.appendChild(badge);
      item.appendChild(document.createTextNode(' ' + m.name));
      list.appendChild(item);
    });
  }

  function onServiceStatus(data) {
    var card = $('[data-service="' + (data.service || '') + '"]');
    if (!card) return;
    var before = card.getAttribute('data-status');
    card.setAttribute('data-status', data.status);
    var label = $('.status-label', card);
    if (label) label.textContent = STATUS_WORDS[data.status] || data.status;
    var rt = data.responseTime !== undefined ? data.responseTime : data.responseTimeMs;
    var time = $('[data-field="response-time"]', card);
    if (time) time.textContent = rt === null || rt === undefined ? '–' : Math.round(rt) + ' ms';
    if (data.uptimePercentage !== undefined && data.uptimePercentage !== null) {
      var up = $('[data-field="uptime"]', card);
      if (up) up.textContent = (+data.uptimePercentage).toFixed(1) + ' %';
    }
    var checked = $('[data-field="last-check"] time', card);
    if (checked) {
      checked.setAttribute('datetime', data.lastCheckAt || new Date().toISOString());
      checked.textContent = relativeTime(checked.getAttribute('datetime'));
    }
    var err = $('[data-field="error"]', card);
    if (err) { err.textContent = data.error || ''; err.hidden = !data.error; }
    renderSource(card, data);
    renderMonitors(card, data.monitors);
    if (before && before !== data.status && (data.status === 'offline' || before === 'offline')) {
      var name = card.getAttribute('data-service-label') || data.service;
      toast(name + ' is ' + (STATUS_WORDS[data.status] || data.status).toLowerCase() + '.',
        data.status === 'offline' ? 'error' : 'success');
    }
  }

  var TERMINAL = { completed: 1, failed: 1, cancelled: 1 };
  var shownProgress = {};

  function applyShownProgress(row) {
    var key = row.getAttribute('data-download-id');
    var pct = shownProgress[key];
    var bar = $('.progress', row);
    if (pct === undefined || !bar || TERMINAL[row.getAttribute('data-state')]) return;
    if (+bar.getAttribute('aria-valuenow') >= Math.round(pct)) return;
    bar.setAttribute('aria-valuenow', String(Math.round(pct)));
    var fill = $('.progress-bar', row);
    if (fill) fill.style.width = pct + '%';
    var pctText = $('[data-field="percent"]', row);
    if (pctText) pctText.textContent = Math.round(pct) + ' %';
  }

  // A swap keeps what the person opened (an item list) and the progress already shown.
  var openBeforeSwap = [];
  var focusAfterSwap = null;
  document.addEventListener('htmx:beforeSwap', function (event) {
    // The element that asked (detail.elt is where the event fired: the target).
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    // An answer that swaps nothing (an error said in a toast) ends the "Testing…" note.
    if (!event.detail.shouldSwap || event.detail.swapOverride === 'none') {
      $all('[data-busy]', event.detail.target).forEach(function (note) { note.remove(); });
    }
    // A 404 that answers for this element alone (a title Overseerr cannot retrieve) is
    // said where it was asked for, to be read at leisure, not in a toast that leaves.
    if (event.detail.xhr.status === 404 && elt && elt.closest && elt.closest('[data-swap-not-found]')) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    // A control the swap removes hands the keyboard on (htmx keeps it only by id).
    focusAfterSwap = elt && elt === document.activeElement ? elt.getAttribute('data-focus-after-swap') : null;
    openBeforeSwap = $all('details[id][open]', event.detail.target).map(function (d) { return d.id; });
    if (event.detail.target.matches && event.detail.target.matches('details[id][open]')) openBeforeSwap.push(event.detail.target.id);
  });
  document.addEventListener('htmx:beforeSend', function (event) {
    if (event.detail.xhr) event.detail.xhr.medianestSentAt = Date.now();
  });
  document.addEventListener('htmx:afterSettle', function (event) {
    openBeforeSwap.forEach(function (id) { var d = document.getElementById(id); if (d) d.open = true; });
    openBeforeSwap = [];
    if (focusAfterSwap && (!document.activeElement || document.activeElement === document.body)) {
      var next = document.querySelector(focusAfterSwap);
      if (next) next.focus();
    }
    focusAfterSwap = null;
    var sentAt = (event.detail.xhr && event.detail.xhr.medianestSentAt) || 0;
    $all('[data-download-id]').forEach(function (row) { catchUp(row, sentAt); applyShownProgress(row); });
  });

  // The last event of each download, kept even when its row is not on the page: a row
  // rendered from a request sent before that event (a list still loading when a download
  // fails at once) would otherwise show the old state for good, since no event follows.
  var lastProgress = {};

  function catchUp(row, renderedFrom) {
    var last = lastProgress[row.getAttribute('data-download-id')];
    if (last && last.at >= renderedFrom && last.data.status !== row.getAttribute('data-state')) {
      onYoutubeProgress(last.data);
    }
  }

  function onYoutubeEvent(data) {
    lastProgress[data.downloadId] = { data: data, at: Date.now() };
    onYoutubeProgress(data);
  }

  // The row as the server renders it now (buttons, items, errors).
  function readRowAgain(row) {
    if (window.htmx && row.dataset.refreshUrl) {
      window.htmx.ajax('GET', row.dataset.refreshUrl, { target: row, swap: 'outerHTML' });
    }
  }

  // Events sent while the socket was down are gone: what they would have changed is read
  // again (the service cards come back with the status subscription).
  function readAgainAfterReconnect() {
    $all('[data-download-id]').forEach(function (row) {
      if (!TERMINAL[row.getAttribute('data-state')]) readRowAgain(row);
    });
    if (window.htmx && document.getElementById('requests-list')) window.htmx.trigger(document.body, 'requests-changed');
  }

  function onYoutubeProgress(data) {
    var row = $('[data-download-id="' + (data.downloadId || '') + '"]');
    if (!row) return;
    var before = row.getAttribute('data-state');
    var pct = Math.max(0, Math.min(100, +data.progress || 0));
    // Overall progress only grows while the job runs; a stored value read back a moment
    // later (a row refresh) or a late event must not move the bar backwards.
    var key = data.downloadId;
    if (!TERMINAL[data.status]) pct = Math.max(pct, shownProgress[key] || 0);
    shownProgress[key] = pct;
    row.setAttribute('data-state', data.status);
    var bar = $('.progress', row);
    if (bar) bar.setAttribute('aria-valuenow', String(Math.round(pct)));
    var fill = $('.progress-bar', row);
    if (fill) fill.style.width = pct + '%';
    var pctText = $('[data-field="percent"]', row);
    if (pctText) pctText.textContent = Math.round(pct) + ' %';
    var state = $('[data-field="status"]', row);
    if (state) state.textContent = data.status;
    var items = $('[data-field="items"]', row);
    if (items && data.totalItems) items.textContent = 'Item ' + Math.min(data.currentItem || 0, data.totalItems) + ' of ' + data.totalItems;
    var extra = $('[data-field="speed"]', row);
    if (extra) {
      var speed = typeof data.speed === 'number' ? formatBytes(data.speed) + '/s' : '';
      var eta = typeof data.eta === 'number' && !TERMINAL[data.status] ? formatDuration(data.eta) + ' left' : '';
      extra.textContent = [speed, eta].filter(Boolean).join(' · ');
    }
    // A title learned late (the list read after the row was made) is in the buttons' names
    // and questions too: the row is read again for those.
    var titleChanged = !!data.title && data.title !== row.getAttribute('data-title');
    if (data.title) {
      row.setAttribute('data-title', data.title);
      var heading = $('.list-item-title', row);
      if (heading) heading.textContent = data.title;
    }
    var itemChanged = String(data.currentItem) !== (row.dataset.currentItem || String(data.currentItem));
    row.dataset.currentItem = String(data.currentItem);
    // `noteChanged`: a finished download delivered to Plex later (its note went).
    if (before !== data.status || itemChanged || titleChanged || data.noteChanged) readRowAgain(row);
    if (before !== data.status && TERMINAL[data.status]) {
      var title = row.getAttribute('data-title') || 'The download';
      toast(title + ': ' + data.status + '.', data.status === 'completed' ? 'success' : 'warning');
    }
  }

  function onRequestStatus(data) {
    $all('[data-request-id="' + (data.requestId || '') + '"]').forEach(function (row) {
      row.setAttribute('data-state', data.status);
      var badge = $('[data-field="status"]', row);
      if (badge) {
        badge.textContent = data.status;
        badge.className = 'badge ' + ({ available: 'badge-ok', approved: 'badge-info', processing: 'badge-info', declined: 'badge-bad', failed: 'badge-bad', removed: 'badge-bad' }[data.status] || 'badge-warn');
      }
    });
    // No toast here: the `notification` push of the same change says it in a sentence.
  }

  // The indicator is a polite live region: a screen reader says each new label. While
  // the server is away every retry would say "Reconnecting…" then "Offline" again, so
  // once offline it stays offline until a connection is made; and the first "Live" of
  // each page is not said at all (the region only speaks after that).
  function setConnection(state, label) {
    var el = document.getElementById('conn');
    if (!el) return;
    var was = el.getAttribute('data-state');
    if (state === 'connecting' && was === 'offline') return;
    if (state === was) return;
    el.setAttribute('data-state', state);
    $('.conn-label', el).textContent = label;
    // Later, not now: the accessibility tree reads this label change after the script,
    // and would take it as said by an already live region.
    if (state === 'live' && el.getAttribute('aria-live') === 'off') {
      setTimeout(function () { el.setAttribute('aria-live', 'polite'); }, 1000);
    }
  }

  function initSocket() {
    if (!document.body.hasAttribute('data-live') || typeof window.io !== 'function') return;
    var socket = window.io({ path: '/socket.io', transports: ['websocket', 'polling'], withCredentials: true });
    var everConnected = false;
    var askedAgainAfterRefusal = false;
    socket.on('connect', function () {
      askedAgainAfterRefusal = false;
      setConnection('live', 'Live');
      socket.emit('subscribe:status');
      if (everConnected) readAgainAfterReconnect();
      everConnected = true;
    });
    socket.on('disconnect', function (reason) {
      setConnection('connecting', 'Reconnecting…');
      // The server ended the socket (a role changed, or the session ended in another
      // tab): socket.io never comes back by itself from that, so ask again at once;
      // the new role gets in, an ended session is refused (below).
      if (reason === 'io server disconnect') socket.connect();
    });
    socket.on('connect_error', function (error) {
      setConnection('offline', 'Offline');
      // Refused for want of a session: if the page's own request is refused too, the
      // page is read again and the server sends it to sign-in, rather than leaving the
      // previous user's page on screen, "Offline" for good.
      if (error && error.message === 'unauthenticated') {
        api('GET', '/api/auth/session').then(function (res) {
          if (res.status === 401) window.location.reload();
          // Signed in again by its remember-me cookie (the session ran out): the socket
          // comes back with the new session cookie. Once, so a refusal for another
          // reason does not loop.
          else if (res.ok && !askedAgainAfterRefusal) {
            askedAgainAfterRefusal = true;
            socket.connect();
          }
        });
      }
    });
    socket.io.on('reconnect_attempt', function () { setConnection('connecting', 'Reconnecting…'); });
    socket.on('service:status', onServiceStatus);
    socket.on('youtube:progress', onYoutubeEvent);
    socket.on('request:status', onRequestStatus);
    socket.on('notification', function (data) { toast(data && data.message, data && data.type); });
    window.MediaNest.socket = socket;
  }

  // What was typed into a live search before the scripts ran (a slow phone, a busy
  // machine): htmx takes the field's value as already seen when it starts, so without
  // this the search would wait for the next key. (htmx starts first: its script is first.)
  function sendEarlyTyping() {
    if (!window.htmx) return;
    $all('form[hx-get][hx-trigger*="submit"]').forEach(function (form) {
      var typed = $all('input[type=search]', form).some(function (input) { return input.value !== input.defaultValue; });
      if (typed) window.htmx.trigger(form, 'submit');
    });
  }

  // The sticky top bar's height, for app.css's scroll-padding-top: a link to a section
  // or a field reached with the keyboard is not left under the bar.
  function trackTopbarHeight() {
    var bar = $('.topbar');
    if (!bar || typeof ResizeObserver !== 'function') return;
    new ResizeObserver(function () {
      document.documentElement.style.setProperty('--topbar-height', bar.offsetHeight + 'px');
    }).observe(bar);
  }

  // ------------------------------------------------------------------ start
  document.addEventListener('DOMContentLoaded', function () {
    applyTheme(currentTheme());
    var toggle = document.getElementById('theme-toggle');
    if (toggle) {
      toggle.addEventListener('click', function () {
        var next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
        try { localStorage.setItem('medianest-theme', next); } catch (e) { /* not persisted */ }
        applyTheme(next);
        toast('Theme: ' + (next === 'auto' ? 'follows the system' : next) + '.', 'info');
      });
    }
    // Close the account menu with Escape, for keyboard users.
    document.addEventListener('keydown', function (event) {
      if (event.key !== 'Escape') return;
      $all('details.usermenu[open]').forEach(function (d) { d.open = false; $('summary', d).focus(); });
    });
    trackTopbarHeight();
    initLogout();
    initCopyButtons();
    initPasswordLogin();
    initPlexLogin();
    initChangePassword();
    initSocket();
    sendEarlyTyping();
    showTimes(document);
    setInterval(function () { tickCountdowns(document); }, 1000);
    setInterval(function () { tickRelativeTimes(document); }, 5000);
  });
})();

/* The bell (unread count, kept in step over Socket.IO on every device), the service
   worker registration (installable PWA, web push) and "send notifications to this
   browser" on the notifications page. No inline scripts (strict CSP). */
(function () {
  'use strict';

  function setUnread(count) {
    var bell = document.getElementById('bell-count');
    if (!bell) return;
    bell.textContent = count > 99 ? '99+' : String(count);
    bell.hidden = !count;
    var link = document.getElementById('bell');
    if (link) link.setAttribute('aria-label', 'Notifications: ' + count + ' unread');
    var centre = document.getElementById('centre-unread');
    if (centre) { centre.textContent = count + ' unread'; centre.setAttribute('data-unread', String(count)); }
  }

  var counted = false;

  function refreshUnread() {
    counted = true;
    window.MediaNest.api('GET', '/api/notifications?limit=1').then(function (res) {
      if (res.ok && res.data) setUnread(res.data.unread);
    });
  }

  function listen(tries) {
    var socket = window.MediaNest && window.MediaNest.socket;
    if (!socket) { if (tries < 50) setTimeout(function () { listen(tries + 1); }, 100); return; }
    socket.on('notification:new', function (data) {
      setUnread(data.unread);
      var n = data.notification || {};
      // A request's status change is already said by its own live toast (request:status
      // with its 'notification'): one toast per event, the centre and bell still update.
      var toldElsewhere = String(n.event || '').indexOf('request.') === 0;
      if (window.MediaNest.toast && !toldElsewhere) window.MediaNest.toast(n.title, 'info');
      if (window.htmx && document.getElementById('centre')) window.htmx.ajax('GET', '/notifications/list', { target: '#centre', swap: 'innerHTML' });
    });
    socket.on('notification:read', function (data) { setUnread(data.unread); });
    socket.on('connect', refreshUnread);  // missed events while away: count again
    if (socket.connected) refreshUnread();  // connected before this listened
  }

  function base64UrlToBytes(value) {
    var padded = (value + '===='.slice((value.length % 4) || 4)).replace(/-/g, '+').replace(/_/g, '/');
    var raw = atob(padded), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function enablePush(button) {
    var state = document.getElementById('push-state');
    function say(text) { if (state) state.textContent = text; }
    if (!('serviceWorker' in navigator) || !('PushManager' in window)) { say('This browser cannot receive web push.'); return; }
    Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') { say('Notifications are blocked for this site in the browser settings.'); return null; }
      return navigator.serviceWorker.ready.then(function (registration) {
        return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(button.getAttribute('data-push-key')) });
      }).then(function (subscription) {
        return window.MediaNest.api('POST', '/api/notifications/channels', {
          subscription: subscription.toJSON(),
          events: ['request.approved', 'request.declined', 'request.available', 'request.failed', 'request.removed', 'download.finished', 'download.failed', 'subscription.new_videos']
        });
      }).then(function (res) {
        if (res && res.ok) { say('This browser will get your notifications.'); if (window.htmx) window.htmx.ajax('GET', '/notifications/channels', { target: '#channels', swap: 'innerHTML' }); }
        else if (res) say((res.error && res.error.message) || 'Could not save the subscription.');
      });
    }).catch(function (error) { say('Web push failed: ' + (error && error.message ? error.message : error)); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if ('serviceWorker' in navigator && document.body.hasAttribute('data-live')) {
      navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(function () { /* PWA extras only */ });
    }
    if (!document.getElementById('bell')) return;
    // The socket's connect counts (and counts again after every reconnect, for what was
    // missed meanwhile); a page whose socket has not connected by then counts on its own.
    listen(0);
    setTimeout(function () { if (!counted) refreshUnread(); }, 1500);
    var button = document.getElementById('push-enable');
    if (button) button.addEventListener('click', function () { enablePush(button); });
  });
})();

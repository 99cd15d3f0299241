/* MediaNest service worker: shows web-push notifications (even with no tab open) and
   opens the notification's link when it is clicked. Served from /sw.js (scope "/"). */
'use strict';

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener('push', function (event) {
  var message = {};
  try { message = event.data ? event.data.json() : {}; } catch (e) { message = { title: event.data && event.data.text() }; }
  var title = message.title || 'MediaNest';
  event.waitUntil(self.registration.showNotification(title, {
    body: message.body || '',
    tag: message.tag || undefined,
    icon: '/static/icon.svg',
    data: { url: message.url || '/notifications' }
  }));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || '/notifications';
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url === new URL(url, self.location.origin).href && 'focus' in windows[i]) return windows[i].focus();
    }
    return self.clients.openWindow(url);
  }));
});

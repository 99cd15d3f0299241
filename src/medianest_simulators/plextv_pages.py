"""HTML pages of the plex.tv simulator: `/link` (type a 4-character code) and the
app.plex.tv-style `/auth/#!?clientID=...&code=...` page, both approving through /__sim/."""

from __future__ import annotations

_USER_SCRIPT = """
async function loadUsers() {
  const select = document.getElementById('username');
  const res = await fetch('/__sim/users');
  for (const user of await res.json()) {
    const option = document.createElement('option');
    option.value = user.username;
    option.textContent = user.username;
    select.appendChild(option);
  }
}
async function decide(code, action) {
  const status = document.getElementById('status');
  const username = document.getElementById('username').value;
  const res = await fetch('/__sim/pins/' + encodeURIComponent(code) + '/' + action, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({username: username}),
  });
  const done = action === 'approve' ? 'Approved' : 'Denied';
  status.textContent = res.ok ? done : 'Code not found or expired';
  status.dataset.result = res.ok ? action : 'error';
  return res.ok;
}
loadUsers();
"""

AUTH_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plex (simulated) - Sign In</title></head>
<body>
<h1>Sign in to Plex (simulator)</h1>
<p id="product"></p>
<p>Code: <code id="code"></code></p>
<label>Account <select id="username" name="username"></select></label>
<button id="approve" type="button">Sign In</button>
<button id="deny" type="button">Deny</button>
<p id="status" role="status"></p>
<script>
"""
    + _USER_SCRIPT
    + """
const raw = window.location.hash.replace(/^#!?\\??/, '');
const params = new URLSearchParams(raw);
const code = params.get('code') || '';
const forwardUrl = params.get('forwardUrl');
document.getElementById('code').textContent = code;
document.getElementById('product').textContent =
  (params.get('context[device][product]') || 'An app') + ' wants to sign in with Plex.';
document.getElementById('approve').addEventListener('click', async () => {
  if (await decide(code, 'approve') && forwardUrl) { window.location.href = forwardUrl; }
});
document.getElementById('deny').addEventListener('click', () => decide(code, 'deny'));
</script>
</body></html>
"""
)

LINK_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plex (simulated) - Link</title></head>
<body>
<h1>Link an app (simulator)</h1>
<form id="link">
<label>Code <input id="code" name="code" maxlength="4" autocomplete="off"></label>
<label>Account <select id="username" name="username"></select></label>
<button id="approve" type="submit">Link</button>
</form>
<p id="status" role="status"></p>
<script>
"""
    + _USER_SCRIPT
    + """
document.getElementById('link').addEventListener('submit', (event) => {
  event.preventDefault();
  decide(document.getElementById('code').value.trim().toUpperCase(), 'approve');
});
</script>
</body></html>
"""
)

// Who is signed in, and what the server says they may do. The server's permission table
// (control_plane/auth/permissions.py) is the one source: `GET /me` lists the user's permissions and
// each recommendation its `allowed_actions`; the dashboard only hides what would be refused anyway.

export const session = { user: null };

// `permission` is one of the server's names, e.g. "audit.read" or "database.create".
export function can(permission) {
  const held = session.user && Array.isArray(session.user.permissions) ? session.user.permissions : [];
  return held.includes(permission);
}

// What the caller may do to one recommendation now, as the server computed it.
export function allows(recommendation, action) {
  return Array.isArray(recommendation.allowed_actions) && recommendation.allowed_actions.includes(action);
}

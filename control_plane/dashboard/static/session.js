// Who is signed in, and what their role lets them do. The API enforces every rule; the dashboard
// only hides what would be refused anyway.

const ROLE_RIGHTS = {
  admin: new Set(["approve", "reject", "rollback", "analyze", "manage_databases", "maintenance_window", "audit"]),
  analyst: new Set(["reject", "analyze"]),
  viewer: new Set(),
};

export const session = { user: null };

export function can(right) {
  const role = session.user ? session.user.role : null;
  return Boolean(role && ROLE_RIGHTS[role] && ROLE_RIGHTS[role].has(right));
}

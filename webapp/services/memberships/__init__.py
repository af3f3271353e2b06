"""Memberships: granting and revoking access (grants), each membership's states (lifecycle), pulling a
group's members (pull), pending changes and reconciling (periodic), members a page at a time (pages), the
member CSV (exports) and the member job kinds (jobs)."""

"""Delegated group managers (docs/PRODUCT.md §13): who manages the members of one group, and nothing else.

Assigning and removing them is here (managers.py); what they may see and do is access.py's (visible groups,
`manages`, `require_manager`) and each capability's own registration (`for_group_managers` on plan and job
kinds), so that a new capability says in one line whether a group manager may use it."""

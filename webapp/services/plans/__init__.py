"""Plans: a bulk change previewed, reviewed and applied (core); the kinds of plan (kinds: the registry;
members, groups: the built-in kinds), the apply's record (journal) and the plan job kinds (jobs)."""

"""Who may do what: the access policy, and the audit record of every privileged action."""

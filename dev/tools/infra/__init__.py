"""Offline checks of the Bicep under infra/ (no Bicep compiler can be installed here).

- `bicep`: every `.bicep` file parsed with pycep-parser, and a small evaluator that follows
  variables, module parameters (from every caller) and module outputs across files.
- `types_check`: every resource body against the Bicep compiler's own type data (`bicep_types`,
  read from ../shared/bicep-types or BICEP_TYPES_DIR; values followed by `bicep_values`): unknown
  type@versions, properties, missing required and read-only properties, closed enums, each
  finding with the BCP code `bicep build` would report.
- `rules`: role assignments: a privileged role (RBAC Administrator, User Access Administrator,
  Owner, or a custom role that can write role assignments) needs a condition that constrains
  both role-assignment writes and deletes; every assignment is named with guid() and says why it
  exists; a role the evaluator cannot identify fails (closed, not open).
- `app_settings`: the Function App's app settings against `settings.ENV_NAMES`.
- `checkov_run`: checkov with the project's checks (`checkov_checks/`, which call `rules`).

`python -m tools.infra` runs them all; see docs/deploy.md for what they do and do not prove.
"""

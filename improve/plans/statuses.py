"""An action's statuses, in one module every area can import (the plans, the case's
stage rules, the portfolio and the reminder jobs) without importing the plans' domain."""

ACTION_STATUSES = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "done": "Done",
    "verified": "Verified",
    "blocked": "Blocked",
    "dropped": "Dropped",
}
FINISHED = ("done", "verified")
DROPPED = "dropped"
# Settled: asks nothing more of anyone (never open, overdue, due or reminded). A dropped
# action is settled but not finished: it leaves the counts and answers no finding.
SETTLED = (*FINISHED, DROPPED)

"""Every change of state in this app, by concern: `catalog` (achievements), `awards` (grants
and revocations), `figures` (checking and rebuilding the users' stored figures) and `bulk`
(the one documented path that writes awards past `award_grant`)."""

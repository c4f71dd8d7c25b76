"""The operator's imperative shell: per-sync loops, one sync pass, drift repair, Kopf startup."""

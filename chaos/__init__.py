"""``make chaos``: the fault suite. A whole platform runs as separate processes on private
infrastructure while engagements run through seeding and launch; processes are killed, NATS is
stalled and PostgreSQL restarted one fault after the other; a prober calls the API throughout;
afterwards every invariant is checked and printed as one JSON line. See docs/chaos.md."""

"""The conversations inbox: mentions that want an answer, triaged, assigned, answered within the
engagement's first-response SLA, by whoever the intervention mode says answers."""

"""Where mentions come from: each source kind's reader, the sources an organisation configured,
and the polling that reads them on a Temporal Schedule with a stored cursor."""

"""Touchpoints: where the real world meets the engagement's channels ("flussi di comunicazione
tra mondo reale e mondo virtuale"). An event stand, a shop, a sign or a printed leaflet carries a
tracked link and its QR code; following it counts one scan or click for that touchpoint and day,
and nothing about who followed it."""

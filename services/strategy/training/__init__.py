"""Training and knowledge transfer (modes ``formazione`` and ``affiancamento``): an engagement's
training plan (sessions with dates, the client's staff invited, materials), who attended each
session, a competence checklist per person, and the progress they add up to."""

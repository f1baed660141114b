"""Seeding and relationships ("attività di seeding, costruzione della relazione"): an
engagement's outreach list of people, pages and communities, the steps taken with each
(contacted, replied, engaged, declined) and the next step each is due for."""

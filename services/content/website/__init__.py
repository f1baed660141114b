"""Website coordination (*coordinamento con sito web*): a client's site watched through its feed
or sitemap, each new page drafted as a content item with a variant per channel, into review."""

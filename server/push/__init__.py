"""Web Push: a parent's phone is told « Prêt » with the screen locked. The server's VAPID keys
(keys.py), the browsers that asked (subscriptions.py), which changes are worth a notice and
its words (notices.py), and the background queue that sends them (sender.py)."""

"""The project manager's console: HTML pages served by the gateway at ``/console``."""

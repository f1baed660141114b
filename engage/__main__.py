from engage.cli import app

app()

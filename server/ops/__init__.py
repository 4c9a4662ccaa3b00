"""What an operator runs besides serving: `relais check`, `relais backup` and `relais
restore`. Above the web layer (it reads the demo's accounts and the web's idea of an
origin), below the command line that calls it."""

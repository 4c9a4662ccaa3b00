"""The public privacy notice (/confidentialite in French, /privacy in English): what Relais
collects, why, how long, who sees it, the rights and whom to contact (Law 25, ss. 3.2, 8)."""

from starlette.routing import BaseRoute

from . import notice

routes: list[BaseRoute] = [*notice.routes]

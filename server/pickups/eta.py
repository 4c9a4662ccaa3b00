"""Time-to-arrival estimate from a position: great-circle distance × a detour factor, at a
default urban speed. (The parent app refines the speed from successive positions.)"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_000.0
# Roads are longer than the straight line; 1.3 is the usual urban detour index.
DETOUR_FACTOR = 1.3
DEFAULT_SPEED_KMH = 30.0


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def valid_position(latitude: float, longitude: float) -> bool:
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    )


def minutes_to_arrival(
    latitude: float,
    longitude: float,
    dest_latitude: float,
    dest_longitude: float,
    speed_kmh: float = DEFAULT_SPEED_KMH,
) -> float:
    road_m = great_circle_m(latitude, longitude, dest_latitude, dest_longitude) * DETOUR_FACTOR
    return road_m / (speed_kmh * 1000 / 60)

"""The sandbox's own admin endpoints under /_sandbox/ (not part of the Kubernetes API):
arm, list and clear faults, and read the request counters, from outside the process.

- `GET /_sandbox/faults`: `{"faults": [armed fault, ...]}`
- `POST /_sandbox/faults` with a fault as JSON: 201 and the armed fault (with its `id`)
- `DELETE /_sandbox/faults`: disarm all; `DELETE /_sandbox/faults/{id}`: disarm one
- `GET /_sandbox/requests`: `{"requests": [{"verb", "resource", "status", "count"}, ...]}`
- `DELETE /_sandbox/requests`: reset the counters and the request log

They take the same bearer token as the API.
"""

from __future__ import annotations

import json

from aiohttp import web

from modelsync_sandbox.kube import errors
from modelsync_sandbox.kube.faults import Fault, FaultInjector, FaultSpecError
from modelsync_sandbox.kube.handlers import json_response
from modelsync_sandbox.kube.stats import SandboxStats

PREFIX = "/_sandbox/"


async def handle_admin(
    request: web.Request, path: str, faults: FaultInjector, stats: SandboxStats
) -> web.Response:
    parts = path[len(PREFIX) :].split("/")
    if parts == ["faults"]:
        if request.method == "GET":
            return json_response({"faults": [a.to_json() for a in faults.armed()]})
        if request.method == "POST":
            return await _arm(request, faults)
        if request.method == "DELETE":
            faults.clear()
            return json_response({"faults": []})
        raise errors.method_not_allowed()
    if len(parts) == 2 and parts[0] == "faults":
        if request.method != "DELETE":
            raise errors.method_not_allowed()
        if not parts[1].isdigit() or not faults.remove(int(parts[1])):
            raise errors.ApiError(404, "NotFound", f"no armed fault with id {parts[1]!r}", {})
        return json_response({"faults": [a.to_json() for a in faults.armed()]})
    if parts == ["requests"]:
        if request.method == "GET":
            counts = sorted(stats.statuses.items())
            return json_response(
                {
                    "requests": [
                        {"verb": verb, "resource": resource, "status": status, "count": n}
                        for (verb, resource, status), n in counts
                    ]
                }
            )
        if request.method == "DELETE":
            stats.reset()
            return json_response({"requests": []})
        raise errors.method_not_allowed()
    raise errors.route_not_found()


async def _arm(request: web.Request, faults: FaultInjector) -> web.Response:
    try:
        data = json.loads(await request.read())
    except ValueError as exc:
        raise errors.bad_request(f"the fault is not valid JSON: {exc}") from None
    try:
        fault = Fault.from_json(data)
    except FaultSpecError as exc:
        raise errors.bad_request(f"invalid fault: {exc}") from None
    fault_id = faults.add(fault)
    armed = next((a for a in faults.armed() if a.id == fault_id), None)
    body = armed.to_json() if armed is not None else {"id": fault_id, **fault.to_json()}
    return json_response(body, 201)

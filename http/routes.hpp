#pragma once
/// \file routes.hpp Private to http/: each resource's routes, added to the
/// router by server::start.

#include <memory>

#include "http/request_handle.hpp"
#include "http/route_context.hpp"

namespace orch::http {

/// /health, /ready, /openapi.json and (when enabled) /metrics.
void add_operations_routes(route_table& r, const std::shared_ptr<route_context>& ctx);
/// /v1/tasks: definitions, and submitting a run of one.
void add_task_routes(route_table& r, const std::shared_ptr<route_context>& ctx);
/// /v1/runs: batches, queries, logs, cancel and retry.
void add_run_routes(route_table& r, const std::shared_ptr<route_context>& ctx);
/// /v1/schedules.
void add_schedule_routes(route_table& r, const std::shared_ptr<route_context>& ctx);
/// /v1/nodes and /v1/queue.
void add_cluster_routes(route_table& r, const std::shared_ptr<route_context>& ctx);
/// /v1/debug (fault injection); only called when ORCH_FAULT_INJECTION is set.
void add_debug_routes(route_table& r, const std::shared_ptr<route_context>& ctx);

}  // namespace orch::http

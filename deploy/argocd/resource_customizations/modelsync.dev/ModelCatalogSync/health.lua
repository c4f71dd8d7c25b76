-- Health of a modelsync.dev ModelCatalogSync (mapping: modelsync docs/gitops.md).
-- Uses only what Argo CD's restricted Lua offers (base and table libraries; no string library).
local hs = {}

local function describe(condition)
  local reason = condition.reason or ""
  if condition.message ~= nil and condition.message ~= "" then
    return reason .. ": " .. condition.message
  end
  return reason
end

local function find(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

local status = obj.status
local conditions = nil
if status ~= nil then
  conditions = status.conditions
end
local ready = find(conditions, "Ready")

-- Suspension is the user's intent: shown at once, before the operator has seen it.
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true; not syncing"
  return hs
end

if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local stalled = find(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = "Stalled: " .. describe(stalled)
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to set the Ready condition"
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

if ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end

local reconciling = find(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = "Reconciling: " .. describe(reconciling)
  return hs
end

if ready.status ~= "False" then
  hs.status = "Progressing"
  hs.message = describe(ready)
  return hs
end

hs.status = "Degraded"
hs.message = describe(ready)
return hs

-- Health of a modelsync.dev ModelRef: Healthy only when its version may be deployed.
-- Uses only what Argo CD's restricted Lua offers (base and table libraries; no string library).
local hs = {}

local ready = nil
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      ready = condition
      break
    end
  end
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to set the Ready condition"
  return hs
end

local message = ready.reason or ""
if ready.message ~= nil and ready.message ~= "" then
  message = message .. ": " .. ready.message
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  -- Someone else changed the spec; the operator puts it back at its next pass.
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  -- NoDeployableVersion, NoMatchingVersion, PinnedVersionNotFound, RemovedFromCatalog:
  -- the ModelRef exists and says its version must not be deployed.
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = message
return hs

-- What `modelsync reconcile NAME` does: a new value of the trigger annotation asks for a full
-- sync now; removing reconcile-models makes it a full sync rather than a named refresh.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["modelsync.dev/reconcile-requested-at"] = os.date("!%Y-%m-%dT%XZ")
obj.metadata.annotations["modelsync.dev/reconcile-models"] = nil
return obj

local actions = {}
actions["reconcile"] = {["disabled"] = false, ["displayName"] = "Sync from the catalog now"}
actions["suspend"] = {["disabled"] = true}
actions["resume"] = {["disabled"] = true}

local suspended = obj.spec ~= nil and obj.spec.suspend == true
if suspended then
  actions["resume"]["disabled"] = false
  -- A suspended sync ignores the trigger until it is resumed.
  actions["reconcile"]["disabled"] = true
else
  actions["suspend"]["disabled"] = false
end
return actions

-- The release's two side-effecting tools, registered by each child that requires this module.
-- Under `--policy enforced` a run may call (and its model is offered) only the tools whose
-- capability it holds: a child the supervisor narrowed to notes:write cannot ship.
local artana = require "artana"

artana.tool { name = "ship", description = "rolls a version of a service out to production",
              args = { service = "string", version = "string" }, capability = "deploy:write",
              side_effect = true, version = "1",
              fn = function(args, ctx)
                -- A real rollout would hand ctx.idempotency_key to the deploy system.
                print("SHIPPED " .. args.service .. " " .. args.version .. " " ..
                      ctx.idempotency_key)
                return { shipped = args.service .. " " .. args.version }
              end }

artana.tool { name = "publish_notes", description = "publishes a release's notes",
              args = { text = "string" }, capability = "notes:write",
              side_effect = true, version = "1",
              fn = function(args, ctx)
                print("PUBLISHED " .. ctx.idempotency_key)
                return { published = true }
              end }

return {}

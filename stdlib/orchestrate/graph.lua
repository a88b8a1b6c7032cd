--- orchestrate.graph: a DAG of named nodes run in waves.
--
-- spec = {nodes = {[name] = node}, edges = {{from, to}, ...}, start = name,
-- max_concurrency = n?}. An edge is {"a", "b"} or {from = "a", to = "b"}: b runs after a
-- and gets a's output. Refused with graph_invalid, before any step is recorded: an edge
-- naming an unknown node, an edge listed twice, an unknown start, a cycle, and a node that
-- cannot be reached from start (it would never run; it is most likely a typo in an edge).
-- So start is the one node without predecessors.
--
-- Waves: every node whose predecessors are all done is ready; the ready nodes run at once
-- through run:parallel (started, and their errors ranked, by name), then the next wave.
-- The waves follow from the graph alone and the values from recorded steps, so a
-- re-execution replays the finished nodes and goes live at the first unfinished one.
-- @module artana.orchestrate.graph
local artana = require "artana"
local nodes = require "artana.orchestrate.nodes"

local M = {}

local WHAT = "orchestrate.graph"
local SPEC_FIELDS = { nodes = true, edges = true, start = true, max_concurrency = true }

local function bad(message) artana.fail("invalid_argument", WHAT .. ": " .. message) end
local function invalid(message) artana.fail("graph_invalid", WHAT .. ": " .. message) end

-- An edge's two ends: {"a", "b"} or {from = "a", to = "b"}.
local function ends(edge, i)
  local shape = "edge #" .. i .. " must be {from, to}: {\"a\", \"b\"} or {from = \"a\", to = \"b\"}"
  if type(edge) ~= "table" then bad(shape) end
  local from, to
  if edge.from ~= nil or edge.to ~= nil then
    for key in pairs(edge) do
      if key ~= "from" and key ~= "to" then
        bad(shape .. " (unknown field '" .. tostring(key) .. "')")
      end
    end
    from, to = edge.from, edge.to
  else
    if not nodes.is_array(edge) or #edge ~= 2 then bad(shape) end
    from, to = edge[1], edge[2]
  end
  if type(from) ~= "string" or type(to) ~= "string" then bad(shape .. " with two node names") end
  return from, to
end

-- One cycle among `stuck` (nodes each with a stuck predecessor): walk back from the first
-- through each node's first stuck predecessor until a node repeats. "b -> c -> b", from
-- its smallest name.
local function a_cycle(stuck, preds, waiting)
  local at, path, index = stuck[1], {}, {}
  while index[at] == nil do
    path[#path + 1], index[at] = at, #path + 1
    local back = {}
    for _, pred in ipairs(preds[at]) do
      if waiting[pred] > 0 then back[#back + 1] = pred end
    end
    table.sort(back)
    at = back[1]
  end
  local cycle, first = {}, 1
  for i = #path, index[at], -1 do
    cycle[#cycle + 1] = path[i]
    if path[i] < cycle[first] then first = #cycle end
  end
  local out = {} -- told from its smallest name
  for i = 0, #cycle do out[#out + 1] = cycle[(first - 1 + i) % #cycle + 1] end
  return table.concat(out, " -> ")
end

-- Kahn's algorithm by rounds: each wave is the nodes whose predecessors all ran in earlier
-- waves, in name order. Nodes left over lie on (or behind) a cycle.
local function waves_of(names, preds, succs)
  local waiting, waves, placed = {}, {}, 0
  local ready = {}
  for _, name in ipairs(names) do
    waiting[name] = #preds[name]
    if waiting[name] == 0 then ready[#ready + 1] = name end
  end
  while #ready > 0 do
    table.sort(ready)
    waves[#waves + 1] = ready
    placed = placed + #ready
    local next_ready = {}
    for _, name in ipairs(ready) do
      for _, succ in ipairs(succs[name]) do
        waiting[succ] = waiting[succ] - 1
        if waiting[succ] == 0 then next_ready[#next_ready + 1] = succ end
      end
    end
    ready = next_ready
  end
  if placed < #names then
    local stuck = {}
    for _, name in ipairs(names) do
      if waiting[name] > 0 then stuck[#stuck + 1] = name end
    end
    table.sort(stuck)
    invalid("the edges make a cycle: " .. a_cycle(stuck, preds, waiting))
  end
  return waves
end

-- Names every node start cannot reach, sorted.
local function unreachable(names, start, succs)
  local seen, stack = { [start] = true }, { start }
  while #stack > 0 do
    local name = table.remove(stack)
    for _, succ in ipairs(succs[name]) do
      if not seen[succ] then seen[succ], stack[#stack + 1] = true, succ end
    end
  end
  local out = {}
  for _, name in ipairs(names) do
    if not seen[name] then out[#out + 1] = name end
  end
  return out
end

--- Checks `spec` (nothing is recorded); returns {calls, preds, waves, max_concurrency}.
function M.plan(spec)
  if type(spec) ~= "table" then bad("expects {nodes, edges, start}") end
  for key in pairs(spec) do
    if not SPEC_FIELDS[key] then
      bad("unknown field '" .. tostring(key) .. "' (fields: nodes, edges, start, max_concurrency)")
    end
  end
  if type(spec.nodes) ~= "table" or next(spec.nodes) == nil then
    bad("field 'nodes' must be a non-empty table {[name] = node}")
  end
  local names, calls, preds, succs = {}, {}, {}, {}
  for name, node in pairs(spec.nodes) do
    if type(name) ~= "string" then bad("field 'nodes' must be keyed by node names (strings)") end
    nodes.check_name(name, "graph", WHAT)
    calls[name] = nodes.callable(node, WHAT .. ": nodes." .. name)
    names[#names + 1], preds[name], succs[name] = name, {}, {}
  end
  if spec.edges ~= nil and not nodes.is_array(spec.edges) then
    bad("field 'edges' must be an array of {from, to}")
  end
  local mc = spec.max_concurrency
  if mc ~= nil and (math.type(mc) ~= "integer" or mc < 1) then
    bad("field 'max_concurrency' must be an integer >= 1")
  end
  if type(spec.start) ~= "string" then bad("field 'start' must be a node name") end
  local listed = {}
  for i, edge in ipairs(spec.edges or {}) do
    local from, to = ends(edge, i)
    for _, name in ipairs { from, to } do
      if calls[name] == nil then
        invalid("edge #" .. i .. " names an unknown node '" .. name .. "'")
      end
    end
    local id = from .. "\0" .. to
    if listed[id] then invalid("edge " .. from .. " -> " .. to .. " is listed twice") end
    listed[id] = true
    preds[to][#preds[to] + 1], succs[from][#succs[from] + 1] = from, to
  end
  if calls[spec.start] == nil then invalid("start '" .. spec.start .. "' is not a node") end
  local waves = waves_of(names, preds, succs)
  if #preds[spec.start] > 0 then
    table.sort(preds[spec.start])
    invalid("start '" .. spec.start .. "' has predecessors (" ..
      table.concat(preds[spec.start], ", ") .. "): the start node runs first")
  end
  local lost = unreachable(names, spec.start, succs)
  if #lost > 0 then
    invalid("start '" .. spec.start .. "' cannot reach the nodes " .. table.concat(lost, ", ") ..
      " (every node must be reachable from start)")
  end
  return { calls = calls, preds = preds, waves = waves, max_concurrency = mc }
end

--- Runs a checked plan: the waves in order, node inputs {[pred] = output} (start: `input`).
function M.run(run, plan, start, input)
  local outputs = {}
  for _, wave in ipairs(plan.waves) do
    local calls, inputs = {}, {}
    for _, name in ipairs(wave) do
      calls[name] = plan.calls[name]
      if name == start then
        inputs[name] = input
      else
        local given = {}
        for _, pred in ipairs(plan.preds[name]) do given[pred] = outputs[pred] end
        inputs[name] = given
      end
    end
    local results = nodes.parallel(run, "graph", calls, inputs, plan.max_concurrency)
    for name in pairs(calls) do outputs[name] = results[name] end
  end
  return outputs
end

return M

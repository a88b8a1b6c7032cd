--- Orchestration of nodes — functions, agents, harnesses and child runs — in four shapes:
--
--   local orchestrate = require "artana.orchestrate"
--   orchestrate.sequential(run, { plan, build, check }, input)     -- the last output
--   orchestrate.concurrent(run, { a = fa, b = fb }, { a = 1, b = 2 }) -- {a = .., b = ..}
--   orchestrate.chat(run, { pro, con }, "tabs or spaces?", { max_turns = 6 }) -- transcript
--   orchestrate.graph(run, { nodes = {...}, edges = { { "plan", "build" } }, start = "plan" },
--                     input)                                       -- {[node] = output}
--
-- A node is fn(run, input), an agent (its prompt is the input's text; its value the
-- accepted answer's output), a harness (h:run(run, input)) or {child = "worker.lua", caps =
-- {...}} (run:child; its value is the child's output): see artana.orchestrate.nodes.
--
-- Each node runs in scope `<mode>:<name>` (a run:scope, or for concurrent and graph the
-- run:parallel branch of that name), so its steps' keys follow from that scope and the
-- order of its own calls: a re-execution replays what finished and goes live where the run
-- stopped. After each node, in its scope, the summary orchestrate_node {mode, node, status
-- = "completed" | "failed", error = {kind, message} when failed, turn in a chat}. A node's
-- error propagates after its failed summary; a halt (replay_drift, budget_exceeded,
-- reconciliation_required, cancelled, limit_exceeded) or the host's own trouble
-- (lease_held, storage_error, internal) propagates untouched, with no summary. A pause or a
-- sleep in a node is a wait, not an error: the node goes on when the run does.
--
-- Names: in sequential and chat, nodes is an array and a node's name is its index, unless
-- the entry is {name = "planner", node = ...}; in concurrent, nodes is an array (names:
-- indexes) or keyed by names; in graph, nodes is keyed by names. A name is an index or a
-- string without '/' (the scope `<mode>:<name>` is at most 100 bytes). Every argument is
-- checked before the first node runs: a bad one is invalid_argument naming it.
-- @module artana.orchestrate
local artana = require "artana"
local nodes = require "artana.orchestrate.nodes"
local graph = require "artana.orchestrate.graph"
local common = require "artana.agent.common"

local M = {}

local function bad(what, message)
  artana.fail("invalid_argument", what .. ": " .. message)
end

-- An ordered node list: entries are nodes or {name = ..., node = ...}. Returns an array of
-- {name, call}.
local function ordered(list, mode, what)
  if not nodes.is_array(list) or #list == 0 then
    bad(what, "nodes must be a non-empty array of nodes (or {name = ..., node = ...})")
  end
  local out, seen = {}, {}
  for i, entry in ipairs(list) do
    local name, node = i, entry
    if type(entry) == "table" and getmetatable(entry) == nil and entry.node ~= nil then
      for key in pairs(entry) do
        if key ~= "name" and key ~= "node" then
          bad(what, "nodes[" .. i .. "]: unknown field '" .. tostring(key) .. "' (name, node)")
        end
      end
      name, node = entry.name, entry.node
      if type(name) ~= "string" then
        bad(what, "nodes[" .. i .. "]: field 'name' must be a string")
      end
    end
    nodes.check_name(name, mode, what)
    if seen[name] then bad(what, "two nodes are named '" .. tostring(name) .. "'") end
    seen[name] = true
    out[i] = { name = name, call = nodes.callable(node, what .. ": nodes[" .. i .. "]") }
  end
  return out
end

--- orchestrate.sequential(run, nodes, input): runs the nodes in order, each given the
-- previous one's output (the first gets `input`); returns the last output.
function M.sequential(run, list, input)
  local what = "orchestrate.sequential(run, nodes, input)"
  nodes.check_run(run, what)
  local value = input
  for _, node in ipairs(ordered(list, "sequential", what)) do
    value = nodes.run(run, "sequential", node.name, node.call, value)
  end
  return value
end

local CONCURRENT_OPTIONS = { max_concurrency = true }

--- orchestrate.concurrent(run, nodes, inputs [, {max_concurrency}]): node k gets inputs[k];
-- all run at once through run:parallel. Returns the outputs keyed like nodes (an array for
-- an array), whatever order they finish in. When several fail, the error raised is the
-- first by branch name `concurrent:<name>`, compared bytewise ("concurrent:10" before
-- "concurrent:2"): the same in every execution.
function M.concurrent(run, list, inputs, options)
  local what = "orchestrate.concurrent(run, nodes, inputs)"
  nodes.check_run(run, what)
  if type(list) ~= "table" or next(list) == nil then
    bad(what, "nodes must be a non-empty array of nodes or a table keyed by node names")
  end
  local array = nodes.is_array(list)
  local calls = {}
  for name, node in pairs(list) do
    if not array and type(name) ~= "string" then
      bad(what, "nodes must be an array or keyed by strings, not both")
    end
    nodes.check_name(name, "concurrent", what)
    calls[name] = nodes.callable(node, what .. ": nodes[" .. tostring(name) .. "]")
  end
  inputs = inputs == nil and {} or inputs
  if type(inputs) ~= "table" then bad(what, "inputs must be a table keyed like nodes") end
  for key in pairs(inputs) do
    if calls[key] == nil then bad(what, "inputs[" .. tostring(key) .. "] names no node") end
  end
  if options ~= nil then
    if type(options) ~= "table" then bad(what, "options must be a table {max_concurrency}") end
    for key in pairs(options) do
      if not CONCURRENT_OPTIONS[key] then
        bad(what, "options: unknown field '" .. tostring(key) .. "' (max_concurrency)")
      end
    end
    local mc = options.max_concurrency
    if mc ~= nil and (math.type(mc) ~= "integer" or mc < 1) then
      bad(what, "options: field 'max_concurrency' must be an integer >= 1")
    end
  end
  local results = nodes.parallel(run, "concurrent", calls, inputs,
    options and options.max_concurrency)
  if not array then return results end
  local out = {}
  for i = 1, #list do out[i] = results[i] end
  return artana.array(out)
end

local CHAT_OPTIONS = { max_turns = true, stop = true }
local DEFAULT_MAX_TURNS = 10

-- The conversation as text, what an agent node reads as its prompt.
local function chat_text(opening, transcript)
  local lines = { common.text_of(opening) }
  for _, entry in ipairs(transcript) do
    lines[#lines + 1] = tostring(entry.node) .. ": " .. common.text_of(entry.message)
  end
  return table.concat(lines, "\n\n")
end

--- orchestrate.chat(run, nodes, opening [, {max_turns = 10, stop}]) -> transcript: the
-- nodes speak in turn (array order, round-robin), one message per turn, for max_turns
-- turns, or until stop(transcript) returns true after a message. Node input: {opening,
-- transcript (the messages so far, a copy), turn, text (opening and messages as text, the
-- prompt an agent gets)}. The transcript: {{turn, node, message}, ...}, message being the
-- node's value. stop must decide from the transcript alone (it is asked again on replay).
function M.chat(run, list, opening, options)
  local what = "orchestrate.chat(run, nodes, opening, options)"
  nodes.check_run(run, what)
  local speakers = ordered(list, "chat", what)
  options = options == nil and {} or options
  if type(options) ~= "table" then bad(what, "options must be a table {max_turns, stop}") end
  for key in pairs(options) do
    if not CHAT_OPTIONS[key] then
      bad(what, "options: unknown field '" .. tostring(key) .. "' (max_turns, stop)")
    end
  end
  local max_turns = options.max_turns or DEFAULT_MAX_TURNS
  if math.type(max_turns) ~= "integer" or max_turns < 1 then
    bad(what, "options: field 'max_turns' must be an integer >= 1")
  end
  local stop = options.stop
  if stop ~= nil and type(stop) ~= "function" then
    bad(what, "options: field 'stop' must be a function(transcript)")
  end
  local transcript = {}
  for turn = 1, max_turns do
    local speaker = speakers[(turn - 1) % #speakers + 1]
    local input = { opening = opening, transcript = table.move(transcript, 1, #transcript, 1,
      artana.array()), turn = turn, text = chat_text(opening, transcript) }
    local message = nodes.run(run, "chat", speaker.name, speaker.call, input, { turn = turn })
    transcript[turn] = { turn = turn, node = speaker.name, message = message }
    if stop ~= nil and stop(transcript) then break end
  end
  return artana.array(transcript)
end

--- orchestrate.graph(run, {nodes, edges, start, max_concurrency}, input) -> {[node] =
-- output}: see artana.orchestrate.graph. graph_invalid (nothing recorded) for an edge to an
-- unknown node, an unknown start, a cycle or a node start cannot reach.
function M.graph(run, spec, input)
  nodes.check_run(run, "orchestrate.graph(run, spec, input)")
  local plan = graph.plan(spec)
  return graph.run(run, plan, spec.start, input)
end

return M

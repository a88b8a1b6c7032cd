-- The `artana` module and the run object scripts see. This is the host's own code (chunk
-- name "[artana]": its frames never count as an error's position). It runs once per
-- lua_State, in a private environment holding `host` (the C primitives of
-- syscall_bridge.h) and the sandbox's safe functions, and returns `execution`, which makes
-- each execution's module (script_api.cc). Scripts only ever get functions and tables made
-- here, never `host` itself.
local host, safe = ...
local type, error, pcall, select, tostring = safe.type, safe.error, safe.pcall, safe.select,
  safe.tostring
local setmetatable, pairs, ipairs, rawlen = safe.setmetatable, safe.pairs, safe.ipairs,
  safe.rawlen
local unpack, pack, sort = safe.table.unpack, safe.table.pack, safe.table.sort
local fail = host.fail -- fail(kind, message): raises an error naming the script's line

-- The module's functions that keep no execution's state: shared by every execution of
-- the state (each gets its own module table holding them).
local shared = {}

local TOOL_FIELDS = { name = true, description = true, args = true, capability = true,
  side_effect = true, version = true, fn = true }

local function check_name(what, name)
  if type(name) ~= "string" or name == "" then
    fail("invalid_argument", what .. " needs a non-empty string name")
  end
end

-- A full JSON Schema where a schema shorthand is expected.
function shared.json_schema(schema)
  if type(schema) ~= "table" then fail("invalid_argument", "artana.json_schema expects a table") end
  return { ["$json_schema"] = schema }
end

-- Marks a nested table member of a schema shorthand optional (strings use a "?" suffix).
function shared.optional(shorthand)
  return { ["$optional"] = shorthand }
end

-- A table that crosses as a JSON array even when empty.
function shared.array(t)
  t = t or {}
  host.array(t)
  return t
end

-- ---- the run object ----

-- artana.fail(kind, message): raises an error of one of the kinds a library may raise (the
-- stdlib's own, and invalid_argument for its constructors); a script cannot pass itself off
-- as the kernel (budget_exceeded, replay_drift, …).
local LIBRARY_KINDS = { invalid_argument = true, harness_state = true, task_invalid = true,
  child_failed = true, agent_exhausted = true, graph_invalid = true, script_error = true }

function shared.fail(kind, message)
  if not LIBRARY_KINDS[kind] then
    fail("invalid_argument", "artana.fail: kind '" .. tostring(kind) .. "' is not one a " ..
      "library raises (invalid_argument, harness_state, task_invalid, child_failed, " ..
      "agent_exhausted, graph_invalid, script_error)")
  end
  fail(kind, tostring(message))
end

-- artana.passes_through(err): whether a caught error must propagate untouched — a halt of
-- the kernel (replay_drift, budget_exceeded, reconciliation_required, cancelled,
-- limit_exceeded) or the host's own trouble (lease_held, storage_error, internal): never a
-- library's unit, node, gate or tool failure. The one list the stdlib asks, derived from
-- the host's table of error kinds.
local PASSES_THROUGH = host.passing_kinds

function shared.passes_through(err)
  return type(err) == "table" and PASSES_THROUGH[err.kind] == true
end

-- Pure helpers: RFC 8785 canonical JSON text of a value, and the hex SHA-256 of a string.
shared.canonical_json = host.canonical_json
shared.sha256 = host.sha256

local Run = {
  model = host.model, tool = host.tool, pause = host.pause, now = host.now,
  random = host.random, sleep = host.sleep,
  artifact = host.artifact, version = host.version, memory = host.memory,
}

-- Refuses a field of an options table `t` not in `known` ({name = true}), naming `what`.
local unknown_field = host.unknown_field
local function check_fields(t, known, what)
  if type(t) ~= "table" then fail("invalid_argument", what .. " must be a table") end
  local unknown = unknown_field(t, known) -- one raw pass in C; false: t has a metatable
  if unknown == false then
    unknown = nil
    for key in pairs(t) do
      if not known[key] then
        unknown = key
        break
      end
    end
  end
  if unknown ~= nil then
    fail("invalid_argument", what .. ": unknown field '" .. tostring(unknown) .. "'")
  end
end

local SUMMARY_OPTIONS = { key = true, step_key = true }

-- run:summary(kind, value [, {key, step_key}]): a run_summary step; run:lookup finds the
-- latest summary of each key (default: the step key).
function Run:summary(kind, value, options)
  if options == nil then return host.summary(self, kind, value) end
  check_fields(options, SUMMARY_OPTIONS, "run:summary options")
  return host.summary(self, kind, value, options.key, options.step_key)
end

local CHILD_FIELDS = { run_id = true, caps = true, budget_usd = true, input = true,
  step_key = true }

-- run:child(script [, {run_id, caps, budget_usd, input, step_key}]) -> {output, status,
-- run_id, replayed}: a step that runs `script` (in this script's folder) as a child run;
-- a child that fails or is cancelled raises child_failed.
function Run:child(script, options)
  if options ~= nil then check_fields(options, CHILD_FIELDS, "run:child options") end
  return host.child(self, script, options)
end

local LOOKUP_FIELDS = { kind = true, scope = true, limit = true }

-- run:lookup{kind, scope = "run" | "tenant", limit = 20} -> newest first {run_id, seq, key,
-- value}: a recorded step, so a replay sees what the live run saw.
function Run:lookup(query)
  check_fields(query, LOOKUP_FIELDS, "run:lookup{kind, scope, limit}")
  return host.lookup(self, query.kind, query.scope, query.limit)
end

-- run:http{method, url, headers, body, timeout_s, step_key}: a built-in tool step (GET and
-- HEAD are reads, other methods side effects); returns {status, headers, body | body_base64,
-- truncated}.
function Run:http(request)
  if type(request) ~= "table" then
    fail("invalid_argument", "run:http expects a table: run:http { url = ..., method = ... }")
  end
  local args, options = {}, nil
  for key, value in pairs(request) do
    if key == "step_key" then options = { step_key = value } else args[key] = value end
  end
  local method = args.method
  if method == nil then method = "GET"; args.method = method end
  local tool = (method == "GET" or method == "HEAD") and "artana.http_read" or "artana.http"
  return host.tool(self, tool, args, options).result
end

-- run:exec{argv, cwd, env, timeout_s, step_key}: a built-in tool step (a side effect) that
-- runs a program in the workspace; returns {exit_code, signal?, stdout, stderr, truncated,
-- timed_out}.
function Run:exec(request)
  if type(request) ~= "table" then
    fail("invalid_argument", "run:exec expects a table: run:exec { argv = { \"ls\", \"-l\" } }")
  end
  local args, options = {}, nil
  for key, value in pairs(request) do
    if key == "step_key" then options = { step_key = value } else args[key] = value end
  end
  return host.tool(self, "artana.exec", args, options).result
end

-- run:read_file(path [, {root = "workspace" | "script", step_key}]) → {exists, text |
-- text_base64, sha256}; run:write_file(path, text [, {step_key}]) → {bytes, sha256}: built-in
-- tool steps, paths inside their root.
local function key_option(options, what)
  if options == nil then return nil end
  if type(options) ~= "table" then fail("invalid_argument", what .. ": options must be a table") end
  return options.step_key ~= nil and { step_key = options.step_key } or nil
end

function Run:read_file(path, options)
  local root = options ~= nil and type(options) == "table" and options.root or "workspace"
  if root ~= "workspace" and root ~= "script" then
    fail("invalid_argument", "run:read_file: root is \"workspace\" or \"script\"")
  end
  local tool = root == "script" and "artana.read_script_file" or "artana.read_file"
  return host.tool(self, tool, { path = path }, key_option(options, "run:read_file")).result
end

function Run:write_file(path, text, options)
  return host.tool(self, "artana.write_file", { path = path, text = text },
    key_option(options, "run:write_file")).result
end

function Run:step(name, fn)
  if type(fn) ~= "function" then fail("invalid_argument", "run:step(name, fn): fn must be a function") end
  local recorded, value = host.step_begin(self, name)
  if recorded then return value end
  local ok, result = pcall(fn)
  if not ok then
    host.step_abort(self)
    error(result, 0)
  end
  return host.step_end(self, result)
end

-- Leaves the scope, then raises fn's error or returns its results: passed as varargs, so a
-- scope allocates no table for them.
local function leave_scope(run, ok, ...)
  host.scope_exit(run)
  if not ok then error((...), 0) end
  return ...
end

function Run:scope(name, fn)
  if type(fn) ~= "function" then fail("invalid_argument", "run:scope(name, fn): fn must be a function") end
  host.scope_enter(self, name)
  return leave_scope(self, pcall(fn, self))
end

function Run:parallel(branches, options)
  if type(branches) ~= "table" then
    fail("invalid_argument", "run:parallel expects a table of functions (an array or string keys)")
  end
  local keys, fns = {}, {}
  local n = rawlen(branches)
  local by_name = n == 0
  for key, fn in pairs(branches) do
    if by_name then
      if type(key) ~= "string" then
        fail("invalid_argument", "run:parallel: branch keys must be all strings or an array 1..n")
      end
    elseif type(key) ~= "number" or key < 1 or key > n or key % 1 ~= 0 then
      fail("invalid_argument", "run:parallel: branch keys must be all strings or an array 1..n")
    end
    if type(fn) ~= "function" then
      fail("invalid_argument", "run:parallel: branch '" .. tostring(key) .. "' is not a function")
    end
    keys[#keys + 1] = key
  end
  -- pairs visits numbers ascending, then strings bytewise: already the order results keep
  local names = {}
  for i, key in ipairs(keys) do
    names[i] = tostring(key)
    fns[i] = branches[key]
  end
  local max = options and options.max_concurrency
  local results = host.parallel(self, names, fns, max)
  if not by_name then return results end
  local keyed = {}
  for i, key in ipairs(keys) do keyed[key] = results[i] end
  return keyed
end

-- Runs a model port or a tool function on its own host thread.
local function call(fn, ...)
  return fn(...)
end

-- One execution of a script: its own `artana` module, registries of tools and ports,
-- loaded modules and run fields. Called once per execution (a state reused by a hot reload
-- calls it again), so nothing one execution registered, required or changed in the module
-- reaches the next; what is shared above holds no script's state and is unreachable from
-- scripts.
local function execution()
  local artana = {
    json_schema = shared.json_schema,
    optional = shared.optional,
    array = shared.array,
    fail = shared.fail,
    passes_through = shared.passes_through,
    canonical_json = shared.canonical_json,
    sha256 = shared.sha256,
  }
  local tools, ports = {}, {}
  local sealed = false -- set once the entry starts: registrations belong at the top level

  local function check_open(what)
    if sealed then
      fail("invalid_argument", what .. " must be called at the script's top level (or in a " ..
        "module it requires there), before the entry function runs")
    end
  end

  function artana.tool(spec)
    check_open("artana.tool")
    if type(spec) ~= "table" then
      fail("invalid_argument", "artana.tool expects a table: artana.tool { name = ..., fn = ... }")
    end
    for key in pairs(spec) do
      if not TOOL_FIELDS[key] then
        fail("invalid_argument", "artana.tool: unknown field '" .. tostring(key) ..
          "' (fields: name, description, args, capability, side_effect, version, fn)")
      end
    end
    check_name("artana.tool", spec.name)
    local name = spec.name
    if name:sub(1, 7) == "artana." then
      fail("invalid_argument", "tool '" .. name .. "': names starting with 'artana.' are the " ..
        "host's built-ins (run:http, run:exec, run:read_file, run:write_file)")
    end
    if type(spec.fn) ~= "function" then
      fail("invalid_argument", "tool '" .. name .. "': fn must be a function(args, ctx)")
    end
    if tools[name] then fail("invalid_argument", "tool '" .. name .. "' is registered twice") end
    local side_effect = spec.side_effect == true
    if side_effect then
      local params, vararg = host.param_count(spec.fn)
      if params < 2 and not vararg then
        fail("invalid_argument", "tool '" .. name .. "' has side_effect = true, so its fn must " ..
          "take (args, ctx): ctx.idempotency_key is how it avoids acting twice")
      end
    end
    local version = spec.version
    if version ~= nil and type(version) ~= "string" and type(version) ~= "number" then
      fail("invalid_argument", "tool '" .. name .. "': version must be a string")
    end
    tools[name] = { name = name, description = spec.description or "", args = spec.args or {},
      capability = spec.capability or "", side_effect = side_effect,
      version = version ~= nil and tostring(version) or "1", fn = spec.fn }
  end

  function artana.model_port(name, fn)
    check_open("artana.model_port")
    check_name("artana.model_port", name)
    if type(fn) ~= "function" then
      fail("invalid_argument", "model port '" .. name .. "' needs a function(request)")
    end
    if ports[name] then
      fail("invalid_argument", "model port '" .. name .. "' is registered twice")
    end
    ports[name] = fn
  end

  local run_fields = {}
  local the_run -- the entry's run object (boot)
  -- run.<name>: a method is copied into this execution's table the first time it is looked
  -- up, so each later `run:model` is a table read rather than a Lua call; the other names
  -- are computed at every read.
  local run_methods = setmetatable({}, {
    __index = function(methods, key)
      local method = Run[key]
      if method ~= nil then
        methods[key] = method
        return method
      end
      if key == "replaying" then return host.replaying(the_run) end
      -- After fork_on_drift the run goes on as its fork: id names where its steps go now.
      if key == "id" then return host.run_id(the_run) end
      return run_fields[key]
    end,
  })
  local run_meta = {
    __index = run_methods,
    __newindex = function(_, key)
      fail("sandbox_violation", "run." .. tostring(key) .. " is read-only")
    end,
    __metatable = false,
  }

  -- ---- require ----

  local loaded = { artana = artana }
  local loading = {}

  local function require(name)
    if type(name) ~= "string" then
      fail("invalid_argument", "require expects a module name string")
    end
    local module = loaded[name]
    if module ~= nil then return module end
    if loading[name] then
      fail("script_error", "require cycle: '" .. name .. "' requires itself")
    end
    local chunk = host.require(name)
    loading[name] = true
    local ok, result = pcall(chunk, name)
    loading[name] = nil
    if not ok then error(result, 0) end
    if result == nil then result = true end
    loaded[name] = result
    return result
  end

  -- The entry thread's function: run the script's chunk, register what it defined, start or
  -- resume the run, call the entry.
  local function boot(chunk)
    local entry = chunk()
    if type(entry) ~= "function" then
      fail("script_error", "the script must end with `return function(run, input) ... end`; " ..
        "it returned a " .. type(entry))
    end
    sealed = true
    local info = host.ready()
    run_fields.tenant = info.tenant
    local run = setmetatable({}, run_meta)
    the_run = run
    return entry(run, info.input)
  end

  return { boot = boot, call = call, require = require, tools = tools, ports = ports }
end

return execution

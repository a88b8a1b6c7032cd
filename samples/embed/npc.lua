-- An NPC's episode (samples/embed/npc_loop.c): the game's brain decides, the NPC acts in 1-4
-- native tool steps, and tells the game it is done. Every step is journaled: a crash or a
-- hot reload replays the episode without asking the brain again.
return function(run, input)
  local decision = run:model{ model = "npc-brain",
                              prompt = "npc " .. input.npc .. " episode " .. input.episode }
  local plan = decision.output
  for i = 1, plan.steps do
    if i % 2 == 1 then
      run:tool("move_to", { npc = input.npc, x = plan.x + i, y = plan.y })
    else
      run:tool("say", { npc = input.npc, text = plan.line })
    end
  end
  run:tool("episode_done", { npc = input.npc })
  return { npc = input.npc, steps = plan.steps }
end

// Playbook steps the code shows by reference (FILE#ID). A unit test checks
// that every one of them exists, so renaming a step in the data cannot
// silently empty a message.
export const STEP_REFS = {
  pauseReplica: 'delayed-replica#pause',
  stopDamage: 'incident#stop-damage',
  locate: 'incident#locate',
  sideSchema: 'common#side-schema',
  copyBack: 'common#copy-back',
  afterwards: 'incident#afterwards',
} as const;

/** The order of work a tabletop briefing shows (incident runbook). */
export const BRIEFING_STEPS = [STEP_REFS.pauseReplica, STEP_REFS.stopDamage, STEP_REFS.locate, STEP_REFS.sideSchema, STEP_REFS.copyBack, STEP_REFS.afterwards] as const;

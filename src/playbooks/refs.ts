// Playbook steps the code shows by reference (FILE#ID). A unit test checks
// that every one of them exists, so renaming a step in the data cannot
// silently empty a message.
export const STEP_REFS = {
  pauseReplica: 'delayed-replica#pause',
  lockTrap: 'delayed-replica#lock-trap',
  resumeReplica: 'delayed-replica#resume',
  stopDamage: 'incident#stop-damage',
  locate: 'incident#locate',
  sideSchema: 'common#side-schema',
  copyBack: 'common#copy-back',
  afterwards: 'incident#afterwards',
} as const;

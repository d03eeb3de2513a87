import type { SourceModule } from '../types.js';
import { materializeDump } from './materialize.js';
import { probeDump } from './probe.js';

export const dumpSource: SourceModule<'dump'> = {
  kind: 'dump',
  title: 'Logical dumps (pg_dump custom, directory, tar or plain SQL)',
  probe: probeDump,
  materialize: materializeDump,
};

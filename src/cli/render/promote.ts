// promote's summary: what was promoted from which verified side schema.
import type { PromoteDocument } from '../../recovery/promote-side-schema.js';
import { say } from '../output.js';
import { promotedLines } from './recover.js';

export function printPromote(doc: PromoteDocument): void {
  say(`Promoted ${doc.schema} (${doc.mode}; recovered from ${doc.source}, verified ${doc.verifiedAt}, checksums equal).`);
  for (const l of promotedLines(doc.promoted)) say(l);
  say(`Report: ${doc.report}`);
  for (const n of doc.nextSteps) say(`Next: ${n}`);
}

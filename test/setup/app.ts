// The decoders of src/app are required on first use from the built modules (src/app/load.ts);
// under the test runner the sources are TypeScript, so they are imported here first.
import '../../src/app/registry.js';
import { preloadDecoders } from '../../src/app/load.js';

await preloadDecoders();

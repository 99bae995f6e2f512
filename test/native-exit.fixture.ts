/**
 * Child process of test/native.test.ts: exits with process.exit() while a
 * started poll handle is open; Node must exit normally (no abort).
 */
import { native } from '../native/index.js';

const [a] = native.socketpair(native.constants.AF_UNIX, native.constants.SOCK_STREAM, 0);
native.pollInit(() => {}, new Int32Array(3));
native.pollStart(native.pollOpen(a, 1), native.UV_READABLE);
setImmediate(() => process.exit(0));

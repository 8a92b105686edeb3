"use strict";
// Older supertokens-node majors against Portcullis, each speaking its own CDI version (issue 21):
// 13 (2.20), 14 (2.21), 15 (3.0), 16 (4.0), 17 (5.0), and the middle of an upgrade (tokens of 14 and
// of CDI 2.20 under node 24 at 5.4). One process, one Portcullis and one app for all of them (see
// harness.js); the order matters only in that node 14 is initialised by node14.js before
// mid-upgrade.js uses it.

require("./node13");
require("./node14");
require("./node15");
require("./node16");
require("./node17");
require("./mid-upgrade");

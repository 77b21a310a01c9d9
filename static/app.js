// Progressive enhancement only: every core flow works without this file.
"use strict";

// express4 is Express 4 installed under an alias, so the suite runs on both majors.
declare module 'express4' {
  import express = require('express');
  export = express;
}

/* cloudrec.h - the umbrella header: everything libcloudrec offers. */
#ifndef CLOUDREC_H
#define CLOUDREC_H

#include "cloudrec/core.h"
#include "cloudrec/image.h"
#include "cloudrec/classify.h"
#include "cloudrec/http.h"
#include "cloudrec/sigv4.h"

#endif

/* cloudrec.h - the umbrella header: everything libcloudrec offers. */
#ifndef CLOUDREC_H
#define CLOUDREC_H

#include "cloudrec/core.h"
#include "cloudrec/image.h"
#include "cloudrec/classify.h"
#include "cloudrec/http.h"
#include "cloudrec/sigv4.h"
#include "cloudrec/aws.h"
#include "cloudrec/s3.h"
#include "cloudrec/sqs.h"
#include "cloudrec/ec2.h"
#include "cloudrec/scale.h"
#include "cloudrec/web.h"
#include "cloudrec/worker.h"
#include "cloudrec/fleet.h"
#include "cloudrec/service.h"

#endif

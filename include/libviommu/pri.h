/* SPDX-License-Identifier: MIT */
/**
 * @file pri.h
 * @brief Page requests (PCIe PRI) and page responses, shared by the VT-d
 *        page request queue and the AMD-Vi PPR log.
 *
 * A device that faults on purpose (shared virtual addressing) sends a PCIe
 * Page Request Message; the VMM hands it to the IOMMU model with
 * viommu_vtd_page_request() or viommu_amdvi_page_request(), which write the
 * vendor's descriptor into the guest's queue (VT-d page request queue,
 * spec 7.5; AMD-Vi PPR log, 48882 §2.6) and raise its interrupt. The guest
 * answers with a page-group response descriptor (VT-d type 9) or a
 * COMPLETE_PPR_REQUEST command (AMD-Vi 07h); the model hands that to the
 * VMM's page-response callback (viommu_vtd_set_page_response_fn(),
 * viommu_amdvi_set_page_response_fn()) as a struct viommu_page_response,
 * which the VMM forwards to the device as a PRG Response Message.
 *
 * Both calls return enum viommu_prq_status (>= 0) when the request was
 * well-formed, or a negative VIOMMU_E* code for a misuse. When the status
 * is not ::VIOMMU_PRQ_QUEUED no guest response will come: if the request
 * was the last of its group (::VIOMMU_PAGE_REQ_LAST), the VMM answers the
 * device itself with the response code the status names.
 */
#ifndef LIBVIOMMU_PRI_H
#define LIBVIOMMU_PRI_H

#include <libviommu/export.h>
#include <libviommu/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief viommu_page_request::flags and viommu_page_response::flags. */
enum viommu_page_req_flag {
    VIOMMU_PAGE_REQ_READ = 1u << 0,        /**< Read access requested. */
    VIOMMU_PAGE_REQ_WRITE = 1u << 1,       /**< Write access requested. */
    VIOMMU_PAGE_REQ_EXEC = 1u << 2,        /**< Execute requested (with a PASID only). */
    VIOMMU_PAGE_REQ_PRIV = 1u << 3,        /**< Privileged (supervisor) request (with a PASID only). */
    VIOMMU_PAGE_REQ_LAST = 1u << 4,        /**< Last request of its page request group (PCIe "L"). */
    VIOMMU_PAGE_REQ_PASID_VALID = 1u << 5, /**< The message carried a PASID prefix (`pasid` is valid). */
};
/** @brief Every enum viommu_page_req_flag bit. */
#define VIOMMU_PAGE_REQ_ALL 0x3Fu

/** @brief One PCIe page request message (device to IOMMU). */
struct viommu_page_request {
    size_t size;       /**< sizeof(struct viommu_page_request) as compiled by the caller. */
    uint16_t rid;      /**< Requester ID (bus << 8 | devfn). */
    uint16_t prgi;     /**< Page request group index (0..511). */
    uint32_t flags;    /**< enum viommu_page_req_flag. */
    uint32_t pasid;    /**< PASID (< 2^20) with ::VIOMMU_PAGE_REQ_PASID_VALID; else ignored. */
    uint32_t reserved; /**< Zero. */
    uint64_t addr;     /**< Page address (bits 11:0 are ignored). */
};

/** @brief PCIe PRG response codes (PCIe base spec, "PRG Response Message"). */
enum viommu_page_response_code {
    VIOMMU_PAGE_RESP_SUCCESS = 0x0, /**< Pages made resident; the device retries its translation. */
    VIOMMU_PAGE_RESP_INVALID = 0x1, /**< Invalid request: the device treats the pages as not mappable. */
    VIOMMU_PAGE_RESP_FAILURE = 0xF, /**< Response failure: the device disables its PRI. */
};

/** @brief One page (group) response from the guest, to forward to the device. */
struct viommu_page_response {
    size_t size;    /**< sizeof(struct viommu_page_response) as compiled by the library. */
    uint16_t rid;   /**< Requester ID the response goes to. */
    uint16_t prgi;  /**< Page request group index (0..511). */
    uint32_t flags; /**< ::VIOMMU_PAGE_REQ_PASID_VALID and (VT-d) ::VIOMMU_PAGE_REQ_LAST, as written. */
    uint32_t pasid; /**< PASID with ::VIOMMU_PAGE_REQ_PASID_VALID; else ::VIOMMU_PASID_NONE. */
    uint32_t code;  /**< Response code as written by the guest (4 bits; enum viommu_page_response_code). */
};

/**
 * @brief Page-response callback. Runs with the context lock held (like every
 *        libviommu callback): forward the response; calls into the same
 *        context from here return ::VIOMMU_EBUSY.
 * @param opaque The pointer given at registration.
 * @param rsp The response (valid during the call only).
 */
typedef void (*viommu_page_response_fn)(void *opaque, const struct viommu_page_response *rsp);

/** @brief Outcome of viommu_vtd_page_request() / viommu_amdvi_page_request(). */
enum viommu_prq_status {
    /** Written into the guest's queue; the guest's response comes through the
     *  page-response callback (for the last request of the group). */
    VIOMMU_PRQ_QUEUED = 0,
    /** The queue is full or an overflow is pending (VT-d PRS.PRO, AMD-Vi
     *  PPROverflow): dropped, overflow flagged and the guest interrupted. The
     *  guest never sees it: for the last request of a group answer
     *  ::VIOMMU_PAGE_RESP_SUCCESS (the device retries the access and
     *  faults again once there is room), or ::VIOMMU_PAGE_RESP_FAILURE to
     *  make it stop using PRI. */
    VIOMMU_PRQ_FULL = 1,
    /** Page requests are not enabled by the guest (VT-d: translation or the
     *  page request queue not set up; AMD-Vi: IommuEn, PPREn or PPRLogEn
     *  clear, or the log stopped): dropped; answer
     *  ::VIOMMU_PAGE_RESP_INVALID. */
    VIOMMU_PRQ_DISABLED = 2,
    /** The requester may not make page requests (VT-d: context/PASID entry
     *  checks, PRE clear, recorded as a fault; AMD-Vi: DTE not valid, PPR
     *  clear, or Control.EPHEn clear with EPHSup, logged as INVALID_PPR_REQUEST): dropped; answer
     *  ::VIOMMU_PAGE_RESP_INVALID. */
    VIOMMU_PRQ_INVALID = 3,
};

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_PRI_H */

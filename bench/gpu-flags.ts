/** Chromium flags for a real GPU on Linux: headless Chromium uses no GPU driver without them. */
export const REAL_GPU_ARGS = ['--use-angle=vulkan', '--enable-features=Vulkan,VulkanFromANGLE', '--ignore-gpu-blocklist', '--enable-gpu'];
